//! SQLite allocating with mimalloc (`store::sqlite_alloc`), as the executable sets it up: its
//! own test binary, because SQLite takes an allocator only before it first initialises in a
//! process.

#[path = "it/support/mod.rs"]
mod support;

use std::ffi::{c_int, c_void};

use printbridge::store::sqlite_alloc::{AllocatorError, use_mimalloc};
use serde_json::json;
use support::{Backend, TestApp, captured_store};

unsafe extern "C" {
    fn mi_is_in_heap_region(p: *const c_void) -> bool;
    fn malloc(size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

/// Whether `sqlite3_malloc` hands out mimalloc's memory.
fn sqlite_allocates_from_mimalloc() -> bool {
    // SAFETY: a fresh allocation, given back to the allocator that made it.
    unsafe {
        let p = libsqlite3_sys::sqlite3_malloc(1000 as c_int);
        assert!(!p.is_null());
        let ours = mi_is_in_heap_region(p);
        libsqlite3_sys::sqlite3_free(p);
        ours
    }
}

#[tokio::test]
async fn sqlite_allocates_with_mimalloc_from_the_start() {
    // The check tells the two allocators apart: this binary's own allocator is the C
    // library's.
    // SAFETY: as above.
    let c_library = unsafe {
        let p = malloc(1000);
        assert!(!p.is_null());
        let ours = mi_is_in_heap_region(p);
        free(p);
        ours
    };
    assert!(!c_library, "the C library's malloc counted as mimalloc's");

    assert_eq!(use_mimalloc(), Ok(()));
    assert!(sqlite_allocates_from_mimalloc());

    // A whole captured checkout through intake, the ledger and the admin API's reads.
    let stack = support::STACKS[0];
    let app = TestApp::spawn(Backend::Sqlite, |c| c.stores = vec![captured_store(stack)]).await;
    let stored = app.replay_stack(stack).await;
    assert_eq!(stored.len(), 35);
    app.assert_bodies_as_sent(&stored).await;
    let (status, page) = app.admin_get("/v1/admin/orders?store=shop").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], json!(11), "{page}");
    app.stop().await;

    // Once SQLite runs, it keeps its allocator; saying so is all a late call does.
    assert_eq!(use_mimalloc(), Err(AllocatorError::TooLate));
    assert!(sqlite_allocates_from_mimalloc());
}
