//! Limits that keep a hostile or careless sender from growing the bridge's memory, rows or
//! connections, tried from outside through the real app (SQLite file, and PostgreSQL when
//! configured).

use crate::support;
use crate::support::{Backend, TestApp};

const SECRET: &str = "hardening-secret";

fn shop(config: &mut printbridge::config::Config) {
    config.stores = vec![support::store_config("shop", SECRET)];
}

/// The number of `printbridge_deliveries_total` series in `/metrics`.
fn delivery_series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("printbridge_deliveries_total{"))
        .count()
}

/// Many distinct topics on badly signed requests add no series: the topic label comes
/// from a fixed set, anything else is `other`.
async fn rejected_topics_add_no_series(backend: Backend) {
    let app = TestApp::spawn(backend, shop).await;
    for n in 0..200 {
        let resp = app
            .client
            .post(app.url("/v1/webhooks/woocommerce/shop"))
            .header("Content-Type", "application/json")
            .header(
                "X-WC-Webhook-Topic",
                format!("topic.{n}.{}", "x".repeat(1000)),
            )
            .header("X-WC-Webhook-Signature", "bm90IGEgc2lnbmF0dXJl")
            .body(r#"{"id":1}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 401);
    }
    let metrics = app.metrics().await;
    assert_eq!(delivery_series(&metrics), 1, "{metrics}");
    assert!(
        metrics.contains("printbridge_deliveries_total{topic=\"other\",outcome=\"rejected\"} 200"),
        "{metrics}"
    );
    assert!(metrics.len() < 20_000, "{} bytes", metrics.len());
    app.stop().await;
}
on_both_backends!(rejected_topics_are_bounded, rejected_topics_add_no_series);

mod timeouts {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Far beyond every timeout the tests set: a connection still open then is held.
    const WITHIN: Duration = Duration::from_secs(20);

    async fn app(header: u64, body: u64, idle: u64) -> TestApp {
        TestApp::spawn(Backend::Sqlite, |c| {
            shop(c);
            c.header_read_timeout_secs =
                printbridge::config::ServerSecs::new(header).expect("1 to 3600");
            c.body_read_timeout_secs =
                printbridge::config::ServerSecs::new(body).expect("1 to 3600");
            c.idle_timeout_secs = printbridge::config::ServerSecs::new(idle).expect("1 to 3600");
        })
        .await
    }

    async fn connect(app: &TestApp) -> TcpStream {
        let addr = app.base.trim_start_matches("http://");
        TcpStream::connect(addr).await.expect("connect")
    }

    /// Reads until the server closes the connection; `None` if it is still open after
    /// [`WITHIN`].
    async fn read_to_close(stream: &mut TcpStream) -> Option<String> {
        let mut got = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(WITHIN, read).await.ok()?;
        Some(String::from_utf8_lossy(&got).into_owned())
    }

    /// Sends `head`, then `byte` every 100 ms until the server closes the connection
    /// (at most [`WITHIN`]); returns what the server sent.
    async fn trickle_until_closed(app: &TestApp, head: &[u8], byte: &[u8]) -> Vec<u8> {
        let stream = connect(app).await;
        let (mut reader, mut writer) = stream.into_split();
        let closed = tokio::spawn(async move {
            let mut got = Vec::new();
            let _ = reader.read_to_end(&mut got).await;
            got
        });
        writer.write_all(head).await.expect("write");
        let start = std::time::Instant::now();
        while !closed.is_finished() && start.elapsed() < WITHIN {
            if writer.write_all(byte).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::timeout(WITHIN, closed)
            .await
            .expect("the server closed the connection")
            .expect("reader")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_that_sends_nothing_is_closed() {
        let app = app(1, 60, 60).await;
        let mut stream = connect(&app).await;
        let answer = read_to_close(&mut stream).await;
        assert_eq!(answer.as_deref(), Some(""), "closed without an answer");
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn headers_trickled_a_byte_at_a_time_are_cut_off() {
        let app = app(1, 60, 60).await;
        // One header byte every 100 ms: the connection is never inactive for long.
        let got =
            trickle_until_closed(&app, b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n", b"X").await;
        assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_kept_alive_connection_is_closed() {
        // The header deadline is longer than the test waits: only the idle one can close.
        let app = app(60, 60, 1).await;
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
            .await
            .expect("write");
        let answer = read_to_close(&mut stream).await.expect("closed when idle");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(!answer.contains("onnection: close"), "{answer}");
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_that_never_comes_is_answered_408() {
        let app = app(60, 1, 60).await;
        let mut stream = connect(&app).await;
        stream
            .write_all(
                b"POST /v1/webhooks/woocommerce/shop HTTP/1.1\r\nHost: bridge\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            .await
            .expect("write");
        let answer = read_to_close(&mut stream).await.expect("closed");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
        assert!(answer.contains("body_read_timeout_secs"), "{answer}");
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_trickled_a_byte_at_a_time_is_answered_408() {
        let app = app(60, 1, 60).await;
        let got = trickle_until_closed(
            &app,
            b"POST /v1/webhooks/woocommerce/shop HTTP/1.1\r\nHost: bridge\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
            b" ",
        )
        .await;
        let answer = String::from_utf8_lossy(&got);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let (count,): (i64,) = on_pool!(&app.store, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM deliveries")
                .fetch_one(pool)
                .await
                .expect("count")
        });
        assert_eq!(count, 0);
        app.stop().await;
    }
}

/// `check-config` and `serve` both refuse a secret that would open the webhook, with the
/// key and the reason; `serve` never starts listening.
#[test]
fn empty_webhook_secrets_are_refused_by_check_config_and_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bridge.toml");
    let db = dir.path().join("bridge.db");
    for (text, env, want) in [
        (
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \"s3cret\"\nwebhook_secrets = [\"\"]\n",
            None,
            "stores[0].webhook_secrets[0]: is empty",
        ),
        (
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \"env:PB_HARDENING_EMPTY\"\n",
            Some(("PB_HARDENING_EMPTY", "")),
            "stores[0].webhook_secret: is empty",
        ),
        (
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \" \t \"\n",
            None,
            "stores[0].webhook_secret: is only whitespace",
        ),
    ] {
        std::fs::write(
            &path,
            format!("database_url = \"sqlite://{}\"\n{text}", db.display()),
        )
        .expect("write");
        let run = |args: &[&str]| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_printbridge"));
            cmd.args(args).arg("--config").arg(&path);
            if let Some((k, v)) = env {
                cmd.env(k, v);
            }
            cmd.output().expect("run")
        };
        let out = run(&["check-config"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}");
        assert_eq!(stdout.trim(), format!("configuration is invalid: {want}"));
        let out = run(&["serve"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.lines().any(|l| l == format!("printbridge: {want}")),
            "{stderr}"
        );
        assert!(!db.exists(), "serve opened the database");
    }
}

/// The database (customers' addresses and e-mails) and `data_dir` (raw deliveries, PDFs)
/// are created for their owner only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_and_data_dir_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite, shop).await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = app.dir.path().to_owned();
    assert_eq!(mode(&dir.join("bridge.db")), 0o600);
    assert_eq!(mode(&dir.join("data")), 0o700);
    // SQLite gives its write-ahead log the database file's mode.
    assert_eq!(mode(&dir.join("bridge.db-wal")), 0o600);
    app.stop().await;
}

/// Every 401 says how to authenticate, and an unknown store is answered exactly like a
/// known one with wrong credentials: store ids cannot be enumerated.
async fn every_401_challenges_and_unknown_stores_look_like_wrong_credentials(backend: Backend) {
    let app = TestApp::spawn(backend, shop).await;
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        (status, challenge, body)
    };
    let c = &app.client;
    let body = br#"{"id":1}"#.to_vec();
    let cases = [
        (
            c.post(app.url("/v1/webhooks/woocommerce/shop"))
                .header("Content-Type", "application/json")
                .body(body.clone()),
            "WC-Webhook-Signature",
        ),
        (
            c.post(app.url("/v1/callbacks/apliiq/shop"))
                .header("Content-Type", "application/json")
                .header("x-apliiq-hmac", "bm9wZQ==")
                .body(body.clone()),
            "Apliiq-HMAC",
        ),
        (c.get(app.url("/v1/stores/shop/status")), "Bearer"),
        (
            c.get(app.url("/v1/stores/shop/status"))
                .bearer_auth("wrong-token"),
            "Bearer",
        ),
        (c.get(app.url("/v1/admin/orders")), "Bearer"),
        (c.get(app.url("/metrics")).bearer_auth("x"), ""),
    ];
    for (req, scheme) in cases {
        let (status, challenge, body) = send(req).await;
        if scheme.is_empty() {
            assert_eq!(status, 200);
            continue;
        }
        assert_eq!(status, 401, "{body}");
        let challenge = challenge.expect("WWW-Authenticate");
        assert!(challenge.starts_with(scheme), "{challenge}");
    }

    // A signed delivery, a callback and a plugin call to an unknown store.
    let sig = printbridge::woo::signature::sign(SECRET, &body);
    let webhook = |store: &str| {
        c.post(app.url(&format!("/v1/webhooks/woocommerce/{store}")))
            .header("Content-Type", "application/json")
            .header("X-WC-Webhook-Signature", "bm9wZQ==")
            .body(body.clone())
    };
    let (known, _, known_body) = send(webhook("shop")).await;
    let (unknown, _, unknown_body) = send(webhook("nope")).await;
    assert_eq!((known, &known_body), (unknown, &unknown_body));
    let (status, _, _) = send(
        c.post(app.url("/v1/webhooks/woocommerce/nope"))
            .header("Content-Type", "application/json")
            .header("X-WC-Webhook-Signature", sig)
            .body(body.clone()),
    )
    .await;
    assert_eq!(status, 401);
    let status_of = |store: &str| {
        c.get(app.url(&format!("/v1/stores/{store}/status")))
            .bearer_auth("wrong-token")
    };
    let (known, _, known_body) = send(status_of("shop")).await;
    let (unknown, _, unknown_body) = send(status_of("nope")).await;
    assert_eq!(known, unknown);
    assert_eq!(known_body["error"], unknown_body["error"]);
    assert_eq!(
        known_body["message"]
            .as_str()
            .map(|m| m.replace("shop", "nope")),
        unknown_body["message"].as_str().map(str::to_owned)
    );
    let (status, _, gateway) = send(c.get(
        app.url("/v1/key2print/nope/gateway/price?productIdentifier=1&key=k&tstamp=1&sign=x"),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        gateway["details"],
        serde_json::json!("key is not this store's Key2print api key")
    );
    assert_eq!(
        app.store
            .count(printbridge::reads::orders::Table::Deliveries)
            .await
            .expect("count"),
        0
    );
    app.stop().await;
}
on_both_backends!(
    unauthenticated_answers_challenge_and_hide_stores,
    every_401_challenges_and_unknown_stores_look_like_wrong_credentials
);

/// Numbers beyond what an order can hold are not clamped: an order id beyond i64 leaves the
/// delivery unparsed (stored, answered 200), a quantity of 0 or 2.5 flags the order and
/// sends nothing for that item.
async fn out_of_range_numbers_are_flagged_not_clamped(backend: Backend) {
    use crate::support::{Item, order_json};
    let app = TestApp::spawn(backend, shop).await;
    let order = order_json(
        7,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff("tx-1")],
    );
    let text = serde_json::to_string(&order).expect("json");
    let huge = text.replacen("\"id\":7,", "\"id\":1180591620717411303424,", 1);
    assert_ne!(huge, text);
    let (status, ack) = app
        .post_webhook("shop", "order.updated", huge.as_bytes(), SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    let delivery = ack["delivery_id"].as_i64();
    app.applied().await;
    let (_, listed) = app.admin_get("/v1/admin/deliveries?outcome=unparsed").await;
    assert_eq!(listed["total"], serde_json::json!(1), "{listed}");
    let detail = listed["deliveries"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("not a whole number within the range of order ids"),
        "{detail}"
    );
    if let Some(id) = delivery {
        assert_eq!(listed["deliveries"][0]["id"].as_i64(), Some(id));
    }
    let (status, _) = app
        .admin_get(&format!("/v1/admin/orders/shop/{}", i64::MAX))
        .await;
    assert_eq!(status, 404, "no order was made of the clamped id");

    for (n, quantity) in [(8, "0"), (9, "2.5"), (10, "1e30")] {
        let mut order = order_json(
            n,
            "processing",
            "2026-11-23T08:00:00",
            &[Item::Spiff("tx-2")],
        );
        let text = serde_json::to_string(&order["line_items"][0]).expect("json");
        let item = text.replacen("\"quantity\":1,", &format!("\"quantity\":{quantity},"), 1);
        order["line_items"][0] = serde_json::from_str(&item).expect("item");
        let ack = app.post_order("shop", SECRET, &order).await;
        app.applied().await;
        assert_ne!(ack["jobs_planned"], serde_json::json!(1), "{ack}");
        let (status, view) = app.admin_get(&format!("/v1/admin/orders/shop/{n}")).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["items"][0]["classification"], "invalid", "{view}");
        let detail = view["items"][0]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("has a quantity that is not a whole number of at least 1"),
            "{quantity}: {view}"
        );
    }
    let (_, flagged) = app.admin_get("/v1/admin/orders?attention=true").await;
    assert_eq!(flagged["total"], serde_json::json!(3), "{flagged}");
    let (_, jobs) = app.admin_get("/v1/admin/jobs").await;
    assert_eq!(jobs["total"], serde_json::json!(0), "{jobs}");
    app.stop().await;
}
on_both_backends!(
    out_of_range_numbers,
    out_of_range_numbers_are_flagged_not_clamped
);

/// An order above the line-item cap is stored and answered 200, stands flagged for the
/// operator, and plans nothing.
async fn orders_above_the_line_item_cap_are_flagged_not_planned(backend: Backend) {
    use crate::support::{Item, order_json};
    use printbridge::intake::parse::MAX_LINE_ITEMS;
    let app = TestApp::spawn(backend, |c| {
        shop(c);
        c.max_body_bytes =
            printbridge::config::BodyLimit::new(8 * 1024 * 1024).expect("within the cap");
    })
    .await;
    let ids: Vec<String> = (0..=MAX_LINE_ITEMS).map(|n| format!("p-{n}")).collect();
    let items: Vec<Item<'_>> = ids.iter().map(|p| Item::Key2print(p)).collect();
    let order = order_json(21, "processing", "2026-11-23T08:00:00", &items);
    let ack = app.post_order("shop", SECRET, &order).await;
    app.applied().await;
    let (status, view) = app.admin_get("/v1/admin/orders/shop/21").await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(view["items"].as_array().map(Vec::len), Some(1), "{ack}");
    let detail = view["items"][0]["detail"].as_str().unwrap_or_default();
    assert_eq!(
        detail,
        format!(
            "the order has {} line items, more than the {MAX_LINE_ITEMS} the bridge plans; \
             nothing is sent, place it with the providers by hand",
            MAX_LINE_ITEMS + 1
        )
    );
    let (_, jobs) = app.admin_get("/v1/admin/jobs").await;
    assert_eq!(jobs["total"], serde_json::json!(0), "{jobs}");
    let (_, flagged) = app.admin_get("/v1/admin/orders?attention=true").await;
    assert_eq!(flagged["total"], serde_json::json!(1), "{flagged}");

    // At the cap, every item is planned.
    let items: Vec<Item<'_>> = ids[..MAX_LINE_ITEMS]
        .iter()
        .map(|p| Item::Key2print(p))
        .collect();
    let order = order_json(22, "processing", "2026-11-23T08:00:00", &items);
    app.post_order("shop", SECRET, &order).await;
    app.applied().await;
    let (_, jobs) = app.admin_get("/v1/admin/jobs?limit=1").await;
    assert_eq!(jobs["total"], serde_json::json!(MAX_LINE_ITEMS), "{jobs}");
    app.stop().await;
}
on_both_backends!(
    line_item_cap,
    orders_above_the_line_item_cap_are_flagged_not_planned
);

/// Replays of one authentic delivery (the same bytes) add no row after the first; the same
/// body under another topic, or another body, is stored.
async fn identical_replays_add_no_rows(backend: Backend) {
    use crate::support::{Item, order_json};
    use printbridge::reads::orders::Table;
    let app = TestApp::spawn(backend, shop).await;
    let order = order_json(
        31,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff("tx-31")],
    );
    let body = serde_json::to_vec(&order).expect("json");
    let (status, first) = app
        .post_webhook("shop", "order.updated", &body, SECRET)
        .await;
    assert_eq!(status, 200, "{first}");
    for _ in 0..50 {
        let (status, ack) = app
            .post_webhook("shop", "order.updated", &body, SECRET)
            .await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["outcome"], "duplicate", "{ack}");
    }
    app.applied().await;
    assert_eq!(app.store.count(Table::Deliveries).await.expect("count"), 1);
    let (status, ack) = app
        .post_webhook("shop", "order.created", &body, SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    let mut later = order.clone();
    later["date_modified_gmt"] = serde_json::json!("2026-11-23T09:00:00");
    app.post_order("shop", SECRET, &later).await;
    app.applied().await;
    assert_eq!(app.store.count(Table::Deliveries).await.expect("count"), 3);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"duplicate\"} 50"
        ),
        "{metrics}"
    );
    app.stop().await;
}
on_both_backends!(identical_replays, identical_replays_add_no_rows);

/// Key2print sessions are limited per store: beyond `sessions_per_minute` the plugin gets a
/// 429 problem with `Retry-After`, and Key2print is not asked.
async fn key2print_sessions_are_rate_limited(backend: Backend) {
    let sb = support::start_sandbox().await;
    let mut store = support::sandbox_store(&sb, "shop", SECRET);
    if let Some(k) = store.key2print.as_mut() {
        k.sessions_per_minute = 3;
    }
    let app = TestApp::spawn(backend, |c| c.stores = vec![store]).await;
    let session = |guest: usize| {
        app.client
            .post(app.url("/v1/stores/shop/key2print/sessions"))
            .bearer_auth(support::STORE_TOKEN)
            .json(&serde_json::json!({"mode": "user", "customer": {"guest_key": format!("guest-{guest}")}}))
            .send()
    };
    for guest in 0..3 {
        let resp = session(guest).await.expect("request");
        assert_eq!(resp.status().as_u16(), 200);
    }
    let resp = session(3).await.expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let problem: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(problem["error"], "too_many_sessions", "{problem}");
    assert!(
        problem["message"]
            .as_str()
            .is_some_and(|m| m.contains("key2print.sessions_per_minute")),
        "{problem}"
    );
    let stats = sb.state.stats();
    assert_eq!(
        stats.key2print_sessions.len(),
        3,
        "Key2print was asked three times"
    );
    assert_eq!(stats.key2print_users, 3);
    app.stop().await;
    sb.stop();
}
on_both_backends!(session_rate_limit, key2print_sessions_are_rate_limited);

/// `serve`'s log on a pipe: plain text with no escape codes by default, JSON lines with
/// `PRINTBRIDGE_LOG_FORMAT=json`, and `RUST_LOG` decides what is logged.
#[test]
fn logs_follow_rust_log_and_the_chosen_format() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let run = |envs: &[(&str, &str)]| -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_printbridge"));
        cmd.arg("serve")
            .current_dir(dir.path())
            .env("PRINTBRIDGE_LISTEN", format!("127.0.0.1:{port}"))
            .env_remove("PRINTBRIDGE_DATABASE_URL")
            .env_remove("RUST_LOG")
            .env_remove("PRINTBRIDGE_LOG")
            .env_remove("PRINTBRIDGE_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .and_then(|mut s| {
                    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .ok()?;
                    let mut out = String::new();
                    s.read_to_string(&mut out).ok()?;
                    out.starts_with("HTTP/1.1 200").then_some(())
                });
            if ready.is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "bridge not ready in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let mut log = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        let _ = child.wait();
        log
    };
    let text = run(&[]);
    assert!(text.contains("PrintBridge listening"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a piped log: {text:?}"
    );
    let json = run(&[
        ("PRINTBRIDGE_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
        ("PRINTBRIDGE_LOG", "error"),
    ]);
    let first = json.lines().next().expect("a line");
    let line: serde_json::Value = serde_json::from_str(first).expect("a JSON line");
    assert_eq!(
        line["level"], "INFO",
        "RUST_LOG wins over PRINTBRIDGE_LOG: {json}"
    );
    assert!(
        json.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{json}"
    );
    let quiet = run(&[("RUST_LOG", "warn"), ("PRINTBRIDGE_LOG", "info")]);
    assert!(!quiet.contains("PrintBridge listening"), "{quiet}");
}
