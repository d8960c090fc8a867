-- Personal data: finding a customer's orders, erasing them, and retention (as ../sqlite/0011_personal_data.sql).
-- `billing_email` is the order's billing e-mail, trimmed and lowercased, as its newest
-- applied state says ('' when it has none); `customer_id` its WooCommerce customer (0 for a
-- guest). Both are written when a delivery is applied. Orders applied before this migration
-- have NULL: their bodies are LZ4 blocks on SQLite, which SQL cannot read, so the bridge
-- fills them in lazily, in batches, the first time it looks a customer up (src/privacy/).
ALTER TABLE orders ADD COLUMN billing_email TEXT;
ALTER TABLE orders ADD COLUMN customer_id BIGINT;
-- When the order's personal data was erased at the customer's request: it never takes a new
-- state again (so no job is planned, re-queued or replayed for it) and later deliveries of it
-- are redacted by the next privacy sweep.
ALTER TABLE orders ADD COLUMN erased_at BIGINT;
-- Which retention steps were done for the order (bits, src/privacy/retention.rs): 1 older
-- delivery bodies, 2 the current snapshot's personal fields, 4 attempt excerpts, 8 kept files.
ALTER TABLE orders ADD COLUMN retention_done BIGINT NOT NULL DEFAULT 0;
-- When a delivery's body was replaced by its redacted form, and the SHA-256 of the body as
-- it was signed (taken at that moment, for the audit trail; the redacted body's signature no
-- longer verifies).
ALTER TABLE deliveries ADD COLUMN redacted_at BIGINT;
ALTER TABLE deliveries ADD COLUMN original_sha256 TEXT;
-- When a kept file was removed from data_dir (retention or erasure); its row stays.
ALTER TABLE files ADD COLUMN removed_at BIGINT;
CREATE INDEX orders_email ON orders (store_id, billing_email) WHERE billing_email <> '';
CREATE INDEX orders_customer ON orders (store_id, customer_id) WHERE customer_id > 0;
CREATE INDEX orders_unindexed ON orders (store_id, order_id) WHERE billing_email IS NULL;
CREATE INDEX orders_erased ON orders (store_id, order_id) WHERE erased_at IS NOT NULL;
CREATE INDEX orders_retention ON orders (store_id, updated_at, order_id) WHERE retention_done < 15;
