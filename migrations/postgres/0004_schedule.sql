-- p8sync: a config may be scheduled by a five-field cron expression, read in a time zone,
-- instead of every sync_interval_hours (Percolate schedules its daily sync as `0 1 * * *`).
ALTER TABLE p8."SyncConfig" ADD COLUMN IF NOT EXISTS schedule VARCHAR;
ALTER TABLE p8."SyncConfig" ADD COLUMN IF NOT EXISTS schedule_timezone VARCHAR;
