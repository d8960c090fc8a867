-- The intake journal's position: per journal (one per bridge process that has one), the
-- highest sequence number this database has stored. Written in the same transaction as the
-- deliveries, so a restart replays exactly what follows it.
CREATE TABLE intake_journals (
    journal_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
