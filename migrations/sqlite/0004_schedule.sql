-- Cron schedules; see the Postgres migration of the same number.
ALTER TABLE "SyncConfig" ADD COLUMN schedule TEXT;
ALTER TABLE "SyncConfig" ADD COLUMN schedule_timezone TEXT;
