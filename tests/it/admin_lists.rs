//! The admin lists (jobs, deliveries, orders) with every combination of their filters, on
//! both databases: each page and its total against what the rows say. The statements are
//! built from the filters given (so that an index serves each), and these tests check that
//! every combination still selects what it names.

use crate::support;
use crate::support::Backend;
use printbridge::outbox::job_types::{JobQueue, JobState};
use printbridge::reads::jobs::JobFilter;
use printbridge::reads::orders::{DeliveryFilter, OrderFilter};
use printbridge::store::Store;

const STORES: [&str; 2] = ["shop", "other"];
const PROVIDERS: [&str; 5] = ["spiff", "apliiq", "key2print", "woocommerce", "events"];
const JOB_STATES: [&str; 9] = [
    "pending",
    "retrying",
    "running",
    "needs-review",
    "dead",
    "done",
    "cancelled",
    "held",
    "awaiting-approval",
];

async fn exec(store: &Store, sql: &'static str, binds: &[&str], ints: &[i64]) {
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        for i in ints {
            q = q.bind(*i);
        }
        q.execute(pool).await.map(|_| ())
    })
    .expect(sql);
}

async fn migrated(backend: Backend, dir: &std::path::Path) -> Store {
    let (store, _) = support::open_store(backend, dir).await;
    store.migrate().await.expect("migrate");
    store
}

/// Every page of a list, as (ids, total), against the rows filtered and paged by hand.
fn expected<T: Clone>(rows: &[T], keep: impl Fn(&T) -> bool, offset: usize) -> (Vec<T>, i64) {
    let kept: Vec<T> = rows.iter().filter(|r| keep(r)).cloned().collect();
    let total = kept.len() as i64;
    (kept.into_iter().skip(offset).take(LIMIT).collect(), total)
}

const LIMIT: usize = 3;
const OFFSET: usize = 1;

async fn jobs_by_every_filter(backend: Backend) {
    // Every state and every queue a job can have.
    assert_eq!(JobState::names().collect::<Vec<_>>(), JOB_STATES);
    assert_eq!(JobQueue::names().collect::<Vec<_>>(), PROVIDERS);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = migrated(backend, dir.path()).await;
    // (id order) store, provider, state: two jobs for each combination.
    let mut rows: Vec<(i64, &str, &str, &str)> = Vec::new();
    let mut order = 0;
    for round in 0..2 {
        for s in STORES {
            for p in PROVIDERS {
                for st in JOB_STATES {
                    order += 1;
                    exec(
                        &store,
                        "INSERT INTO jobs (store_id, provider, state, order_id, target, kind, \
                         payload, run_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, 'order', 'place_order', '{}', $5, $5, $5)",
                        &[s, p, st],
                        &[order, 1_000 + round],
                    )
                    .await;
                    rows.push((order, s, p, st));
                }
            }
        }
    }
    // Ids follow insertion: newest first is the reverse.
    let ids: Vec<i64> = on_pool!(&store, |pool| sqlx::query_scalar(
        "SELECT id FROM jobs ORDER BY order_id"
    )
    .fetch_all(pool)
    .await)
    .expect("ids");
    let mut rows: Vec<(i64, &str, &str, &str)> = rows
        .into_iter()
        .zip(ids)
        .map(|((_, s, p, st), id)| (id, s, p, st))
        .collect();
    rows.reverse();
    let mut checked = 0;
    for s in std::iter::once(None).chain(STORES.map(Some)) {
        for st in std::iter::once(None).chain(JOB_STATES.map(Some)) {
            for p in std::iter::once(None).chain(PROVIDERS.map(Some)) {
                let page = store
                    .list_jobs(&JobFilter {
                        store: s.map(str::to_owned),
                        state: st.map(|st| st.parse::<JobState>().expect("state")),
                        provider: p.map(|p| p.parse::<JobQueue>().expect("provider")),
                        offset: OFFSET as i64,
                        limit: LIMIT as i64,
                    })
                    .await
                    .expect("list jobs");
                let (want, total) = expected(
                    &rows,
                    |r| {
                        s.is_none_or(|s| r.1 == s)
                            && p.is_none_or(|p| r.2 == p)
                            && st.is_none_or(|st| r.3 == st)
                    },
                    OFFSET,
                );
                let got: Vec<(i64, &str, &str, &str)> = page
                    .jobs
                    .iter()
                    .map(|j| {
                        (
                            j.id,
                            j.store.as_str(),
                            j.provider.as_str(),
                            j.state.as_str(),
                        )
                    })
                    .collect();
                assert_eq!(got, want, "store {s:?} state {st:?} provider {p:?}");
                assert_eq!(page.total, total, "store {s:?} state {st:?} provider {p:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * 10 * 6);
}

on_both_backends!(jobs_list, jobs_by_every_filter);

async fn deliveries_by_every_filter(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = migrated(backend, dir.path()).await;
    let outcomes = ["applied", "failed", "stored", "unparsed"];
    let mut rows: Vec<(i64, String, String, Option<i64>)> = Vec::new();
    for n in 0..40_i64 {
        let s = STORES[(n % 2) as usize];
        let outcome = outcomes[(n / 2 % 4) as usize];
        let order_id = (n % 5 != 4).then_some(n % 3);
        on_pool!(&store, |pool| sqlx::query(
            "INSERT INTO deliveries (store_id, received_at, source, body, outcome, \
             body_encoding, order_id) VALUES ($1, $2, 'webhook', $3, $4, 'identity', $5)"
        )
        .bind(s)
        .bind(n)
        .bind(b"{}".to_vec())
        .bind(outcome)
        .bind(order_id)
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("delivery");
        rows.push((0, s.to_owned(), outcome.to_owned(), order_id));
    }
    let ids: Vec<i64> = on_pool!(&store, |pool| sqlx::query_scalar(
        "SELECT id FROM deliveries ORDER BY received_at"
    )
    .fetch_all(pool)
    .await)
    .expect("ids");
    for (row, id) in rows.iter_mut().zip(ids) {
        row.0 = id;
    }
    rows.reverse();
    for s in std::iter::once(None).chain(STORES.map(Some)) {
        for o in std::iter::once(None).chain(outcomes.map(Some)) {
            for order in [None, Some(0), Some(2), Some(7)] {
                let page = store
                    .list_deliveries(&DeliveryFilter {
                        store: s.map(str::to_owned),
                        outcome: o.map(str::to_owned),
                        order_id: order,
                        offset: OFFSET as i64,
                        limit: LIMIT as i64,
                    })
                    .await
                    .expect("list deliveries");
                let (want, total) = expected(
                    &rows,
                    |r| {
                        s.is_none_or(|s| r.1 == s)
                            && o.is_none_or(|o| r.2 == o)
                            && order.is_none_or(|id| r.3 == Some(id))
                    },
                    OFFSET,
                );
                let got: Vec<(i64, String, String, Option<i64>)> = page
                    .deliveries
                    .iter()
                    .map(|d| (d.id, d.store.clone(), d.outcome.clone(), d.order_id))
                    .collect();
                assert_eq!(got, want, "store {s:?} outcome {o:?} order {order:?}");
                assert_eq!(
                    page.total, total,
                    "store {s:?} outcome {o:?} order {order:?}"
                );
            }
        }
    }
}

on_both_backends!(deliveries_list, deliveries_by_every_filter);

/// What makes an order need attention, one order for each, in both stores.
const WHY: [&str; 7] = [
    "flagged",
    "conflict item",
    "invalid item",
    "dead job",
    "job for review",
    "done job",
    "nothing",
];

async fn orders_by_every_filter(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = migrated(backend, dir.path()).await;
    // (store, order id, status, needs attention), newest first at the end.
    let mut rows: Vec<(String, i64, String, bool)> = Vec::new();
    let mut n = 0_i64;
    for round in 0..2 {
        for s in STORES {
            for why in WHY {
                n += 1;
                let status = if round == 0 { "processing" } else { "on-hold" };
                let flag = (why == "flagged").then_some("the shop changed a paid order");
                on_pool!(&store, |pool| sqlx::query(
                    "INSERT INTO orders (store_id, order_id, number, status, currency, total, \
                     modified_gmt, snapshot_id, trashed, attention, first_seen_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'EUR', '10.00', '2026-12-01T00:00:00', 1, 0, $5, \
                     $6, $6)"
                )
                .bind(s)
                .bind(n)
                .bind(n.to_string())
                .bind(status)
                .bind(flag)
                .bind(1_000 + n)
                .execute(pool)
                .await
                .map(|_| ()))
                .expect("order");
                for (item, class) in [(1, "spiff"), (2, why)] {
                    let class = match class {
                        "conflict item" => "conflict",
                        "invalid item" => "invalid",
                        _ if item == 2 => "none",
                        c => c,
                    };
                    exec(
                        &store,
                        "INSERT INTO order_items (store_id, classification, order_id, item_id, \
                         name, sku, product_id, variation_id, quantity, price) \
                         VALUES ($1, $2, $3, $4, 'Shirt', 'SKU', 5, 0, 1, '10.00')",
                        &[s, class],
                        &[n, item],
                    )
                    .await;
                }
                let job = match why {
                    "dead job" => Some("dead"),
                    "job for review" => Some("needs-review"),
                    "done job" => Some("done"),
                    _ => None,
                };
                for (k, state) in job.into_iter().chain(["done"]).enumerate() {
                    let target = format!("order-{k}");
                    on_pool!(&store, |pool| sqlx::query(
                        "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
                         payload, run_at, created_at, updated_at) \
                         VALUES ($1, $2, 'spiff', $3, 'place_order', $4, '{}', 0, 0, 0)"
                    )
                    .bind(s)
                    .bind(n)
                    .bind(&target)
                    .bind(state)
                    .execute(pool)
                    .await
                    .map(|_| ()))
                    .expect("job");
                }
                let needs = !matches!(why, "done job" | "nothing");
                rows.push((s.to_owned(), n, status.to_owned(), needs));
            }
        }
    }
    rows.reverse();
    for s in std::iter::once(None).chain(STORES.map(Some)) {
        for status in [None, Some("processing"), Some("on-hold"), Some("completed")] {
            for attention in [None, Some(true), Some(false)] {
                let page = store
                    .list_orders(&OrderFilter {
                        store: s.map(str::to_owned),
                        status: status.map(str::to_owned),
                        attention,
                        offset: OFFSET as i64,
                        limit: LIMIT as i64,
                    })
                    .await
                    .expect("list orders");
                let (want, total) = expected(
                    &rows,
                    |r| {
                        s.is_none_or(|s| r.0 == s)
                            && status.is_none_or(|st| r.2 == st)
                            && attention.is_none_or(|a| r.3 == a)
                    },
                    OFFSET,
                );
                let want: Vec<(String, i64)> = want.into_iter().map(|r| (r.0, r.1)).collect();
                let got: Vec<(String, i64)> = page
                    .orders
                    .iter()
                    .map(|o| (o.store.clone(), o.order_id))
                    .collect();
                let what = format!("store {s:?} status {status:?} attention {attention:?}");
                assert_eq!(got, want, "{what}");
                assert_eq!(page.total, total, "{what}");
            }
        }
    }
}

on_both_backends!(orders_list, orders_by_every_filter);
