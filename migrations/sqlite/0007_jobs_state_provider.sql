-- Jobs by state, then provider, for the states that leave the claim index: `/metrics` counts
-- the outbox's unfinished jobs and dead letters per provider and state at every scrape. It
-- counted every job, reading every row of a table that only grows (38.8 ms per scrape at
-- 100,000 jobs on SQLite, 0.56 s at a million); it now reads ranges of this index and of
-- `jobs_due` (pending and retrying jobs), never a finished job (BENCHMARKS.md, sixteenth
-- round). It replaces `jobs_state (state, id)`, which took an entry for every job planned and
-- another at each change of state; this one takes none for a job planned, queued or done.
DROP INDEX jobs_state;
CREATE INDEX jobs_state ON jobs (state, provider, id) WHERE state IN ('running', 'needs-review', 'dead');
