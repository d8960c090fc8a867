//! The `printbridge` binary as users run it: the README's commands.

use crate::support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_printbridge"))
}

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `printbridge serve` on its embedded defaults in `dir`, listening on `port`.
fn spawn_serve(dir: &std::path::Path, port: u16, stderr: Stdio) -> Child {
    bin()
        .arg("serve")
        .current_dir(dir)
        .env("PRINTBRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("PRINTBRIDGE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn")
}

/// Sends SIGTERM to `child` and asserts that it exits with status 0 within 20 s.
fn assert_stops_cleanly_on_sigterm(child: &mut Child) {
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

/// `printbridge serve` with no configuration file: SQLite in the working directory, ready,
/// and a clean stop on SIGTERM.
#[test]
fn serve_starts_on_embedded_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let mut child = spawn_serve(dir.path(), port, Stdio::piped());
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
    assert_stops_cleanly_on_sigterm(&mut child);
}

/// A SIGTERM that arrives as soon as `serve` has bound its port, before it has answered
/// anything, stops it gracefully (exit status 0), not with the signal's default action: the
/// handler is installed before the listener is bound.
#[test]
fn serve_stops_gracefully_on_sigterm_while_starting() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let mut child = spawn_serve(dir.path(), port, Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port not bound in 30 s");
        assert!(child.try_wait().unwrap().is_none(), "bridge exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_stops_cleanly_on_sigterm(&mut child);
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
        .env("PRINTBRIDGE_ADMIN_TOKEN", "admin-token-0123456789")
        .env("SHOP_WEBHOOK_SECRET", "whs")
        .env("SHOP_API_TOKEN", "tok")
        .env("SHOP_WC_SECRET", "cs_x")
        .env("SPIFF_APP_KEY", "k")
        .env("SPIFF_SECRET_KEY", "s")
        .env("APLIIQ_SECRET", "a")
        .env("K2P_SECRET", "k2")
        .env(
            "ERP_EVENTS_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("configuration is valid: 1 store(s)"),
        "{text}"
    );
    assert!(
        !text.contains("whs") && !text.contains("admin-token-0123456789"),
        "{text}"
    );
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
        (
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \"x\"\n[stores.tax_rates.standard]\nrate = \"twenty\"\n",
            "tax_rates.standard.rate",
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

/// A file or an environment that still sets the intake journal's key is refused, naming it
/// and saying the journal is gone.
#[test]
fn check_config_refuses_the_intake_journal_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("intake_journal = true\n", "intake_journal"),
        ("intake_journal = false\n", "intake_journal"),
        (
            "intake_journal_dir = \"/var/lib/pb/journal\"\n",
            "intake_journal_dir",
        ),
    ] {
        let path = dir.path().join("old.toml");
        std::fs::write(&path, text).unwrap();
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .env_remove("PRINTBRIDGE_INTAKE_JOURNAL")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{report}");
        assert!(
            report.contains(&format!("{key}: the intake journal is gone")),
            "{report}"
        );
    }
    let path = dir.path().join("fine.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:8080\"\n").unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("PRINTBRIDGE_INTAKE_JOURNAL", "false")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{report}");
    assert!(
        report.contains("PRINTBRIDGE_INTAKE_JOURNAL: the intake journal is gone"),
        "{report}"
    );
}

/// `printbridge openapi` prints the committed spec.
#[test]
fn openapi_command_prints_the_committed_spec() {
    let out = bin().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(repo_file("openapi/openapi.yaml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

/// `printbridge connection-key` prints the key the plugin's settings accept.
#[test]
fn connection_key_holds_url_store_token_and_secret() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "public_url = \"https://bridge.example.com/\"\n[[stores]]\nid = \"shop\"\nwebhook_secret = \"whsec\"\napi_token = \"env:PB_TEST_TOKEN\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["connection-key", "--store", "shop", "--config"])
        .arg(&path)
        .env("PB_TEST_TOKEN", "tok-123")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text.trim().strip_prefix("pbk1_").expect("pbk1_ prefix");
    let json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"url": "https://bridge.example.com", "store": "shop", "token": "tok-123", "webhook_secret": "whsec"})
    );
    let missing = bin()
        .args(["connection-key", "--store", "nope", "--config"])
        .arg(&path)
        .env("PB_TEST_TOKEN", "tok-123")
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

/// `printbridge replay JOB` puts a dead letter back; other states are refused.
#[tokio::test]
async fn replay_command_requeues_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let store =
        support::store_with_apliiq_orders(support::Backend::Sqlite, dir.path(), 7..=7).await;
    let job = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Apliiq,
            "w",
            2,
            1_000_000,
            1,
        )
        .await
        .unwrap()
        .pop()
        .unwrap();
    let (attempt, finish) = support::refused_attempt();
    assert!(
        store
            .finish_job(&job, "w", 3, &attempt, &finish, &Default::default())
            .await
            .unwrap()
    );
    store.close().await;
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("database_url = {db:?}\n")).unwrap();
    let run = |id: &str| {
        bin()
            .args(["replay", id, "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = run(&job.id.to_string());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued again"));
    let again = run(&job.id.to_string());
    assert_eq!(
        again.status.code(),
        Some(1),
        "a pending job is not replayed"
    );
    assert_eq!(run("999").status.code(), Some(1));
    let store = printbridge::store::Store::connect(&db).await.unwrap();
    let detail = store.job_detail(job.id).await.unwrap().unwrap();
    assert_eq!(detail.job.state, "pending");
}

/// `printbridge backfill` takes in the paid orders the shop changed since a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_takes_in_paid_orders_from_the_shop() {
    let woo = support::woo_standin::WooStandin::start().await;
    let recent = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    for (id, status) in [(901, "processing"), (902, "completed"), (903, "pending")] {
        woo.put_order(serde_json::json!({
            "id": id, "number": id.to_string(), "status": status, "currency": "EUR", "total": "1.00",
            "date_modified_gmt": recent, "line_items": [{"id": 1, "name": "Tee", "quantity": 1,
            "sku": "APQ-1998244S7A1", "price": 1.0, "meta_data": []}]
        }));
    }
    let rest = woo.store_config("shop");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {db:?}\n[[stores]]\nid = \"shop\"\nwebhook_secret = \"s\"\nwoocommerce_url = {:?}\nwoocommerce_consumer_key = {:?}\nwoocommerce_consumer_secret = {:?}\n",
            rest.woocommerce_url.unwrap(),
            rest.woocommerce_consumer_key.unwrap(),
            rest.woocommerce_consumer_secret.unwrap().expose(),
        ),
    )
    .unwrap();
    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["backfill", "--store", "shop", "--since", &since, "--config"])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 paid order(s)"), "{text}");
    assert!(text.contains("2 provider job(s) planned"), "{text}");
    let store = printbridge::store::Store::connect(&db).await.unwrap();
    use printbridge::reads::orders::Table;
    assert_eq!(store.count(Table::Orders).await.unwrap(), 2);
    assert_eq!(store.count(Table::Jobs).await.unwrap(), 2);
}

/// Every `printbridge …` and `cargo run … -- …` command the README shows names a real
/// subcommand, and every flag it uses is one that subcommand takes.
#[test]
fn readme_commands_exist() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let mut checked = 0;
    for line in readme.lines().map(str::trim) {
        let line = line.split(" #").next().unwrap_or(line).trim();
        let args = if let Some(rest) = line.strip_prefix("printbridge ") {
            rest
        } else if let Some((_, rest)) = line
            .strip_prefix("cargo run")
            .and_then(|r| r.split_once("-- "))
        {
            rest
        } else {
            continue;
        };
        let tokens: Vec<&str> = args.split_whitespace().collect();
        let sub = tokens[0];
        let help = |args: &[&str]| {
            let out = bin().args(args).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "README: `{line}`: {args:?} is not a command"
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let mut text = help(&[sub]);
        if sub == "sign"
            && let Some(kind) = tokens[1..].iter().find(|t| {
                !t.starts_with('-') && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
        {
            text.push_str(&help(&["sign", kind]));
        }
        for flag in tokens.iter().filter(|t| t.starts_with("--")) {
            assert!(
                text.contains(flag),
                "README: `{line}`: {sub} takes no {flag}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} commands found in the README");
}

/// `printbridge privacy export|erase`: one customer's orders exported as JSON, then erased
/// (their queued job cancelled); a bad e-mail is refused naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_exports_and_erases_one_customer() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let store = printbridge::store::Store::connect(&db).await.unwrap();
    store.migrate().await.unwrap();
    let cfg = support::store_config("shop", "s");
    let order = support::order_json(
        31,
        "processing",
        "2026-11-23T08:00:00",
        &[support::Item::Apliiq("APQ-1998244S7A1")],
    );
    let ingested = printbridge::outbox::reconcile::ingest_order_json(
        &store,
        &cfg,
        printbridge::intake::parse::Source::Backfill,
        serde_json::to_vec(&order).unwrap(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(ingested.jobs_planned, 1);
    store.close().await;
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("database_url = {db:?}\n[[stores]]\nid = \"shop\"\nwebhook_secret = \"s\"\n"),
    )
    .unwrap();
    let run = move |args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                bin()
                    .args(args)
                    .arg("--config")
                    .arg(&config)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let export = run(&[
        "privacy",
        "export",
        "--store",
        "shop",
        "--email",
        "ADA@example.test",
    ])
    .await;
    assert!(export.status.success(), "{export:?}");
    let doc: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(doc["orders"][0]["order_id"], 31, "{doc}");
    assert_eq!(
        doc["orders"][0]["current"]["billing"]["last_name"],
        "Lovelace"
    );
    let erase = run(&[
        "privacy",
        "erase",
        "--store",
        "shop",
        "--email",
        "ada@example.test",
    ])
    .await;
    assert!(erase.status.success(), "{erase:?}");
    let doc: serde_json::Value = serde_json::from_slice(&erase.stdout).unwrap();
    assert_eq!(
        doc["orders"][0]["cancelled"][0]["provider"], "apliiq",
        "{doc}"
    );
    let again = run(&[
        "privacy",
        "export",
        "--store",
        "shop",
        "--email",
        "ada@example.test",
    ])
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["orders"], serde_json::json!([]), "{doc}");
    let bad = run(&["privacy", "export", "--store", "shop", "--email", "nobody"]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--email"),
        "{bad:?}"
    );
}
