//! SIGTERM during a burst of webhooks, each on a connection of its own (as WooCommerce sends
//! them), against the real `printbridge serve` binary: every delivery is either answered 200
//! and stored, or refused before the bridge read it; none is cut off, and nothing unanswered
//! is stored.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;
use crate::support::{ADMIN_TOKEN, Item, order_json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "shutdown-secret";
const FIRST_ORDER: i64 = 70_000;
/// Concurrent senders: more than the bridge accepts at once, so connections wait in the
/// listen queue when SIGTERM arrives.
const SENDERS: usize = 256;

fn write_config(path: &Path, database_url: &str) {
    let text = format!(
        "database_url = {database_url:?}\nadmin_token = {ADMIN_TOKEN:?}\ndata_dir = {data:?}\n\
         shutdown_grace_secs = 20\n\n[dispatch]\nenabled = false\n\n\
         [[stores]]\nid = \"shop\"\nwebhook_secret = {SECRET:?}\n",
        data = path.with_extension("data").display().to_string(),
    );
    std::fs::write(path, text).expect("config");
}

async fn ready(client: &reqwest::Client, base: &str) {
    support::eventually(Duration::from_secs(30), "bridge ready", || async {
        let r = client.get(format!("{base}/readyz")).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;
}

/// What became of one delivery, seen from the sender.
#[derive(Debug)]
enum Fate {
    /// A complete `200` answer.
    Answered,
    /// The connection was refused (the listener was closed) or reset while connecting.
    Refused,
    /// Reset or closed before any byte of an answer: must not happen (a connection whose
    /// handshake completed was accepted, so its request is read and answered).
    NoAnswer,
    /// Some of an answer, or another status: must not happen.
    Broken(String),
}

/// A signed delivery of order `order_id` with `Connection: close`.
fn request(port: u16, order_id: i64) -> Vec<u8> {
    let order = order_json(
        order_id,
        "processing",
        "2026-11-23T10:00:00",
        &[Item::Apliiq("APQ-1998244S7A1")],
    );
    let body = serde_json::to_vec(&order).expect("json");
    let sig = printbridge::woo::signature::sign(SECRET, &body);
    let mut request = format!(
        "POST /v1/webhooks/woocommerce/shop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nX-WC-Webhook-Topic: order.updated\r\n\
         X-WC-Webhook-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// One delivery on a connection of its own, read to the end.
async fn deliver(port: u16, order_id: i64) -> Fate {
    let request = request(port, order_id);
    match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(stream) => send_on(stream, &request).await,
        // Refused, or reset while connecting: nothing was sent.
        Err(_) => Fate::Refused,
    }
}

/// One delivery on a connection already made.
async fn deliver_on(stream: TcpStream, port: u16, order_id: i64) -> Fate {
    send_on(stream, &request(port, order_id)).await
}

/// Sends `request` and reads the answer to the end.
async fn send_on(mut stream: TcpStream, request: &[u8]) -> Fate {
    if stream.write_all(request).await.is_err() {
        return Fate::NoAnswer;
    }
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer).await;
    if answer.is_empty() {
        return Fate::NoAnswer;
    }
    let text = String::from_utf8_lossy(&answer);
    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, rest)| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .is_some_and(|n| n == rest.len())
    });
    if read.is_ok() && complete && text.starts_with("HTTP/1.1 200 ") {
        Fate::Answered
    } else {
        Fate::Broken(format!("{read:?}: {text}"))
    }
}

/// Waits for every task, in order.
async fn futures_join<T: 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// The order ids of the stored deliveries, each stored once.
async fn stored_orders(database_url: &str) -> BTreeSet<i64> {
    let store = printbridge::store::Store::connect(database_url)
        .await
        .expect("store");
    let rows: Vec<(i64, i64)> = on_pool!(&store, |pool| {
        sqlx::query_as(
            "SELECT order_id, COUNT(*) FROM deliveries WHERE order_id IS NOT NULL \
             GROUP BY order_id",
        )
        .fetch_all(pool)
        .await
        .expect("deliveries")
    });
    store.close().await;
    assert!(
        rows.iter().all(|(_, n)| *n == 1),
        "a delivery was stored twice"
    );
    rows.into_iter().map(|(id, _)| id).collect()
}

async fn sigterm_mid_burst(database_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bridge.toml");
    write_config(&config, database_url);
    let port = support::free_port();
    let mut child = support::spawn_serve(&config, port);
    printbridge::net::ensure_crypto_provider();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    ready(&client, &base).await;

    // Each sender keeps sending until it is refused, so the burst lasts until the bridge has
    // stopped taking connections however fast it answers; `n` only keeps the burst's order
    // ids below those of the late connections.
    let n: i64 = 1_000_000;
    let next = Arc::new(AtomicI64::new(0));
    let fates = Arc::new(Mutex::new(Vec::<(i64, Fate)>::new()));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (next, fates) = (next.clone(), fates.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let fate = deliver(port, FIRST_ORDER + i).await;
                let refused = matches!(fate, Fate::Refused);
                fates.lock().expect("fates").push((FIRST_ORDER + i, fate));
                if refused {
                    return;
                }
            }
        }));
    }
    support::eventually(Duration::from_secs(60), "300 answers", || async {
        (fates.lock().expect("fates").len() >= 300).then_some(())
    })
    .await;
    // Connections made before the signal that send their request only after it: the
    // bridge accepted them, so it answers them.
    let mut late = Vec::new();
    for _ in 0..8 {
        late.push(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        );
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The bridge no longer takes new connections once it began to shut down.
    support::eventually(
        Duration::from_secs(30),
        "new connections held off",
        || async {
            match tokio::time::timeout(
                Duration::from_millis(100),
                TcpStream::connect(("127.0.0.1", port)),
            )
            .await
            {
                Ok(Ok(_)) => None,
                Ok(Err(_)) | Err(_) => Some(()),
            }
        },
    )
    .await;
    let late_fates: Vec<(i64, Fate)> = futures_join(
        late.into_iter()
            .enumerate()
            .map(|(k, stream)| {
                let id = FIRST_ORDER + n + i64::try_from(k).unwrap_or(0);
                tokio::spawn(async move { (id, deliver_on(stream, port, id).await) })
            })
            .collect(),
    )
    .await;
    for (id, fate) in &late_fates {
        assert!(
            matches!(fate, Fate::Answered),
            "order {id}, sent on a connection made before the signal: {fate:?}"
        );
    }
    for s in senders {
        s.await.expect("sender");
    }
    let exit = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .expect("join");
    assert!(exit.success(), "{exit:?}");

    let mut fates = std::mem::take(&mut *fates.lock().expect("fates"));
    fates.extend(late_fates);
    let broken: Vec<(i64, &str)> = fates
        .iter()
        .filter_map(|(id, f)| match f {
            Fate::Broken(what) => Some((*id, what.as_str())),
            _ => None,
        })
        .collect();
    assert!(broken.is_empty(), "cut off: {broken:?}");
    let answered: BTreeSet<i64> = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Answered))
        .map(|(id, _)| *id)
        .collect();
    let refused = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Refused))
        .count();
    let no_answer = fates.len() - answered.len() - refused;
    eprintln!(
        "{} answered, {refused} refused, {no_answer} closed before an answer",
        answered.len()
    );
    assert!(answered.len() >= 300, "{}", answered.len());
    assert!(refused > 0, "no sender was refused after the signal");
    assert_eq!(no_answer, 0, "connections closed before an answer");

    let stored = stored_orders(database_url).await;
    let unanswered: Vec<&i64> = stored.difference(&answered).collect();
    let lost: Vec<&i64> = answered.difference(&stored).collect();
    assert!(lost.is_empty(), "answered 200 but not stored: {lost:?}");
    assert!(
        unanswered.is_empty(),
        "stored but never answered: {unanswered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_answers_what_it_read_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("bridge.db").display());
    sigterm_mid_burst(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_answers_what_it_read_postgres() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    let name = format!("pb_shutdown_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    let (server, _) = url.rsplit_once('/').expect("database url");
    sigterm_mid_burst(&format!("{server}/{name}")).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
