-- Jobs waiting for the shop's owner, held (until sent) or awaiting approval, join the states
-- `jobs_state` holds: `/metrics` counts them per provider at every scrape and the admin list
-- reads them from this index, as it does the running, needs-review and dead jobs. A job
-- planned, queued or done still takes no entry.
DROP INDEX jobs_state;
CREATE INDEX jobs_state ON jobs (state, provider, id)
    WHERE state IN ('running', 'needs-review', 'dead', 'held', 'awaiting-approval');
