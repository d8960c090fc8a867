-- Jobs by state, then provider: `/metrics` counts the outbox's unfinished jobs and dead letters
-- per provider and state at every scrape. It counted every job, reading every row of a table
-- that only grows (38.8 ms per scrape at 100,000 jobs on SQLite, 0.56 s at a million); it now
-- reads ranges of this index alone (BENCHMARKS.md, sixteenth round). It replaces
-- `jobs_state (state, id)`, which no query needed beyond what this one gives, so that a
-- planned job still adds the same number of index entries.
DROP INDEX jobs_state;
CREATE INDEX jobs_state ON jobs (state, provider, id);
