-- A delivery's body digest (SHA-256 of the body as it came): computed for every delivery and
-- read by nothing. Hashing a 6 KB order was about a seventh of the intake feeder's CPU per
-- delivery in a burst (BENCHMARKS.md, fifteenth round). The body itself is kept.
ALTER TABLE deliveries DROP COLUMN body_sha256;
