//! The `printbridge` binary as users run it: the README's commands.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_printbridge"))
}

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `printbridge serve` with no configuration file: SQLite in the working directory, ready,
/// and a clean stop on SIGTERM.
#[test]
fn serve_starts_on_embedded_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .arg("serve")
        .current_dir(dir.path())
        .env("PRINTBRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("PRINTBRIDGE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .and_then(|mut s| {
                use std::io::{Read, Write};
                s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .ok()?;
                let mut out = String::new();
                s.read_to_string(&mut out).ok()?;
                Some(out)
            });
        if let Some(resp) = ok {
            break resp;
        }
        assert!(Instant::now() < deadline, "bridge not ready in 30 s");
        assert!(child.try_wait().unwrap().is_none(), "bridge exited early");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(dir.path().join("printbridge.db").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "bridge did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
}

/// The configuration example in the README is valid as written.
#[test]
fn readme_configuration_example_is_valid() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("toml block") + 8;
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printbridge.toml");
    std::fs::write(&path, &readme[start..end]).unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("PRINTBRIDGE_ADMIN_TOKEN", "adm")
        .env("SHOP_WEBHOOK_SECRET", "whs")
        .env("SHOP_API_TOKEN", "tok")
        .env("SHOP_WC_SECRET", "cs_x")
        .env("SPIFF_APP_KEY", "k")
        .env("SPIFF_SECRET_KEY", "s")
        .env("APLIIQ_SECRET", "a")
        .env("K2P_SECRET", "k2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("configuration is valid: 1 store(s)"),
        "{text}"
    );
    assert!(!text.contains("whs") && !text.contains("adm"), "{text}");
}

/// A bad file is refused with exit code 2 and the name of the bad key.
#[test]
fn check_config_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        (
            "listen = \"127.0.0.1:8080\"\nlisten_port = 3\n",
            "listen_port",
        ),
        (
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \"env:PB_TEST_UNSET_VAR\"\n",
            "webhook_secret",
        ),
        (
            "[[stores]]\nid = \"bad id!\"\nwebhook_secret = \"x\"\n",
            "id",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .env_remove("PB_TEST_UNSET_VAR")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{report}");
        assert!(report.contains(key), "{key} not named in: {report}");
    }
}

/// `printbridge openapi` prints the committed spec.
#[test]
fn openapi_command_prints_the_committed_spec() {
    let out = bin().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(repo_file("openapi/openapi.yaml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}
