-- How a delivery's body is stored: 'identity' (as it came) or 'lz4' (an LZ4 block after
-- its length; SQLite only, see src/store/body.rs), and its size as it came. Deliveries
-- stored before this column are as they came; their size is the stored body's length.
ALTER TABLE deliveries ADD COLUMN body_encoding TEXT NOT NULL DEFAULT 'identity';
ALTER TABLE deliveries ADD COLUMN body_size BIGINT;
