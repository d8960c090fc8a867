-- Orders an operator should look at (`/v1/admin/orders?attention=true`): flagged, with an
-- item no provider can take, or with a job for review or a dead letter. The list tested
-- every order for the three (0.8 s at 100,000 orders on SQLite); it now reads the keys of
-- the few orders concerned from this index, `order_items_attention` and `jobs_state`
-- (BENCHMARKS.md, seventeenth round). Neither takes an entry for an order that needs nothing.
CREATE INDEX orders_attention ON orders (store_id, order_id) WHERE attention IS NOT NULL;
CREATE INDEX order_items_attention ON order_items (store_id, order_id)
    WHERE classification IN ('conflict', 'invalid');
-- The orders list, newest first, is read in this index's order to its page; on `updated_at`
-- alone, the ties' order (store, then order id) made SQLite sort every order for each page.
DROP INDEX orders_updated;
CREATE INDEX orders_updated ON orders (updated_at, store_id, order_id);
