-- PrintBridge ledger and outbox (SQLite). Times are Unix milliseconds (UTC).
-- Keep in step with ../postgres/0001_init.sql: the same tables, columns and constraints.

CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id      TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    source        TEXT    NOT NULL,             -- webhook | reconcile | backfill
    topic         TEXT,
    webhook_id    TEXT,
    delivery_ref  TEXT,                         -- X-WC-Webhook-Delivery-ID (not unique)
    content_type  TEXT,
    body          BLOB    NOT NULL,
    body_sha256   TEXT    NOT NULL,
    order_id      INTEGER,
    outcome       TEXT    NOT NULL,             -- applied | duplicate | stale | ignored | unparsed | signal | deleted
    detail        TEXT
);
CREATE INDEX deliveries_order ON deliveries (store_id, order_id);
CREATE INDEX deliveries_outcome ON deliveries (outcome, id);

CREATE TABLE orders (
    store_id       TEXT    NOT NULL,
    order_id       INTEGER NOT NULL,
    number         TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    total          TEXT    NOT NULL,
    modified_gmt   TEXT    NOT NULL,
    snapshot_id    INTEGER NOT NULL,
    trashed        INTEGER NOT NULL DEFAULT 0,
    paid_at        INTEGER,                     -- first time seen in a paid status
    attention      TEXT,                        -- why an operator should look, if anything
    first_seen_at  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (store_id, order_id)
);
CREATE INDEX orders_updated ON orders (updated_at);
CREATE INDEX orders_status ON orders (store_id, status);

CREATE TABLE order_snapshots (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id      TEXT    NOT NULL,
    order_id      INTEGER NOT NULL,
    modified_gmt  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    delivery_id   INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    body          TEXT    NOT NULL,
    UNIQUE (store_id, order_id, modified_gmt, status)
);

CREATE TABLE order_items (
    store_id        TEXT    NOT NULL,
    order_id        INTEGER NOT NULL,
    item_id         INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    sku             TEXT    NOT NULL,
    product_id      INTEGER NOT NULL,
    variation_id    INTEGER NOT NULL,
    quantity        INTEGER NOT NULL,
    price           TEXT    NOT NULL,
    classification  TEXT    NOT NULL,           -- spiff | key2print | apliiq | none | conflict | invalid
    design_id       TEXT,
    detail          TEXT,
    PRIMARY KEY (store_id, order_id, item_id)
);

-- The outbox: one row per side effect, unique per (store, order, provider, target), so a
-- provider order is planned at most once whatever the webhooks do.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id        TEXT    NOT NULL,
    order_id        INTEGER NOT NULL,
    provider        TEXT    NOT NULL,           -- spiff | apliiq | key2print | woocommerce
    target          TEXT    NOT NULL,           -- 'order', a Key2print project id, a note key
    kind            TEXT    NOT NULL,           -- place_order | fetch_pdf | order_note | fetch_order
    state           TEXT    NOT NULL,           -- pending | retrying | running | needs-review | dead | done
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    started         INTEGER NOT NULL DEFAULT 0,     -- attempts begun; more than attempts = one was interrupted
    run_at          INTEGER NOT NULL,
    locked_by       TEXT,
    locked_until    INTEGER,
    provider_ref    TEXT,                       -- provider order id, file id, note id
    result          TEXT,
    last_error      TEXT,
    last_status     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (store_id, order_id, provider, target)
);
CREATE INDEX jobs_due ON jobs (provider, run_at, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX jobs_running ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_order ON jobs (store_id, order_id);

CREATE TABLE job_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       INTEGER NOT NULL REFERENCES jobs (id),
    started_at   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,              -- success | retryable | ambiguous | permanent | resolved
    status_code  INTEGER,
    excerpt      TEXT,
    error        TEXT,
    worker       TEXT    NOT NULL
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, id);

CREATE TABLE files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id    TEXT    NOT NULL,
    order_id    INTEGER NOT NULL,
    job_id      INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (job_id)
);

CREATE TABLE tracking (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id     TEXT    NOT NULL,
    order_id     INTEGER NOT NULL,
    provider     TEXT    NOT NULL,
    carrier      TEXT    NOT NULL,
    number       TEXT    NOT NULL,
    url          TEXT,
    received_at  INTEGER NOT NULL,
    UNIQUE (store_id, order_id, provider, number)
);

CREATE TABLE key2print_users (
    store_id      TEXT    NOT NULL,
    customer_key  TEXT    NOT NULL,             -- 'customer:<id>' or 'guest:<session id>'
    user_id       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (store_id, customer_key)
);

CREATE TABLE gateway_errors (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id            TEXT    NOT NULL,
    at                  INTEGER NOT NULL,
    method              TEXT    NOT NULL,
    product_identifier  TEXT,
    details             TEXT    NOT NULL
);
CREATE INDEX gateway_errors_store ON gateway_errors (store_id, id);

CREATE TABLE reconcile_state (
    store_id        TEXT    PRIMARY KEY,
    cursor_gmt      TEXT    NOT NULL,           -- newest date_modified_gmt fetched
    last_run_at     INTEGER,
    last_error      TEXT
);
