-- An order's jobs are found by the first two columns of the jobs' unique key
-- (store_id, order_id, provider, target); a second index on (store_id, order_id) only cost
-- every planned job another index entry, and every intake transaction another page written.
DROP INDEX jobs_order;
