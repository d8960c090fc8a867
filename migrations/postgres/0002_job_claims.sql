-- How many times each job was claimed, ever: a replay does not reset it (unlike attempts
-- and started). A job claimed for the first time was never sent, so the dispatcher need not
-- ask the provider whether an earlier attempt placed the order (Apliiq's lookup lists every
-- order of its window, a cost that grows with the shop's volume).
-- Jobs that existed before this column count as claimed once: they keep their lookups.
ALTER TABLE jobs ADD COLUMN claims BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET claims = 1;
