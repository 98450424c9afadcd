-- A run's progress and a request to stop it; see the Postgres migration of the same number.
ALTER TABLE "SyncLog" ADD COLUMN bytes_total INTEGER;
ALTER TABLE "SyncLog" ADD COLUMN current_file TEXT;
ALTER TABLE "SyncLog" ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "SyncLog" ADD COLUMN progress_at TEXT;
