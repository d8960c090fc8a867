//! `printbridge demo` and the provider sandboxes as a newcomer and an integrator use them.

use std::process::Command;

/// The demo runs the whole flow and says so: exit 0, a verified row per provider order, per
/// product gateway call (the Key2print sandbox playing the editor) and for Apliiq's fulfilment
/// callback written back to the shop. A failed step makes the exit code 1
/// (`demo::tests::the_demo_passes_only_when_every_step_did`).
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
    assert_eq!(rows.len(), 9, "{text}");
    let cells =
        |row: &str| -> Vec<String> { row.split('|').map(|c| c.trim().to_owned()).collect() };
    let expected = [
        ("spiff", "orderCreate", "done"),
        ("apliiq", "POST /v1/Order", "done"),
        ("key2print", "GET /api/v1/project/download", "done"),
        ("key2print", "POST /api/v1/session/start", "started"),
        ("key2print", "gateway product-details", "answered"),
        ("key2print", "gateway available-options", "answered"),
        ("key2print", "gateway price", "answered"),
        ("key2print", "gateway setup-data", "answered"),
        ("apliiq", "fulfilment callback", "written back"),
    ];
    for (row, (provider, call, state)) in rows.iter().zip(expected) {
        let c = cells(row);
        assert_eq!(c[1], provider, "{row}");
        assert!(c[2].starts_with(call), "{row}");
        assert_eq!(c[3], "verified", "{row}");
        assert_eq!(c[4], state, "{row}");
        assert!(!c[5].is_empty(), "{row}");
        assert!(c[6].ends_with(" ms"), "{row}");
    }
    let pdf = cells(rows[2])[5].clone();
    let bytes = std::fs::read(&pdf).expect("the kept PDF");
    assert!(bytes.starts_with(b"%PDF-"));
    // The gateway answered with the shop's product and a taxed price.
    assert!(
        cells(rows[4])[5].starts_with("Business cards"),
        "{}",
        rows[4]
    );
    assert!(
        cells(rows[6])[5].contains("EUR gross (VAT 20%)"),
        "{}",
        rows[6]
    );
    // The tracking number Apliiq reported is written back to the shop's order.
    assert!(cells(rows[8])[5].starts_with("USPS 9400"), "{}", rows[8]);
    assert!(text.contains("Every provider order went through exactly once"));
}
