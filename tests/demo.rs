//! `printbridge demo` and the provider sandboxes as a newcomer and an integrator use them.

use std::process::Command;

/// The demo runs the whole flow and says so: exit 0, one verified, done row per provider.
#[test]
fn demo_once_places_every_provider_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args(["demo", "--once", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| provider"))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for (row, provider) in rows.iter().zip(["spiff", "apliiq", "key2print"]) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[1], provider, "{row}");
        assert_eq!(cells[3], "verified", "{row}");
        assert_eq!(cells[4], "done", "{row}");
        assert!(!cells[5].is_empty(), "{row}");
        assert!(cells[6].ends_with(" ms"), "{row}");
    }
    let pdf = rows[2].split('|').nth(5).unwrap().trim();
    let bytes = std::fs::read(pdf).expect("the kept PDF");
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(text.contains("Every provider order went through exactly once"));
}
