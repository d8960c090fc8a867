//! Temporary files of Key2print downloads cut off by a crash are removed at start; kept
//! PDFs and other files stay.

use crate::support::{Backend, TestApp, open_store};

async fn interrupted_downloads_are_removed_at_start(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let order_dir = dir.path().join("data/key2print/shop/7");
    std::fs::create_dir_all(&order_dir).expect("dirs");
    let leftovers = [
        order_dir.join("K2P-1.tmp-0123456789abcdef0123456789abcdef"),
        dir.path()
            .join("data/key2print/shop/K2P-2.tmp-fedcba9876543210fedcba9876543210"),
    ];
    let kept = [
        order_dir.join("K2P-1.pdf"),
        order_dir.join("K2P-3.tmp-notes"),
        dir.path()
            .join("data/other.tmp-0123456789abcdef0123456789abcdef"),
    ];
    for path in leftovers.iter().chain(&kept) {
        std::fs::write(path, b"%PDF-1.7 partial").expect("write");
    }
    let (store, url) = open_store(backend, dir.path()).await;
    let app = TestApp::spawn_on(dir, store, url, |_| {}, None).await;
    for path in &leftovers {
        assert!(!path.exists(), "{} is left", path.display());
    }
    for path in &kept {
        assert!(path.exists(), "{} was removed", path.display());
    }
    app.stop().await;
}
on_both_backends!(startup, interrupted_downloads_are_removed_at_start);
