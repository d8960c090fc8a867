-- When a job's current attempt handed its request to the provider (milliseconds), cleared
-- when the attempt is recorded. Set at the next claim, it says an earlier attempt's request
-- may have reached the provider and its outcome was never recorded; unset, an interrupted
-- attempt sent nothing and the job is simply tried again.
ALTER TABLE jobs ADD COLUMN sent_at INTEGER;
