-- A run in progress reports itself about once a second (p8sync's columns): the bytes it plans
-- to move, the file under way, and whether someone asked it to stop, which the run reads back
-- in the same statement.
ALTER TABLE p8."SyncLog" ADD COLUMN IF NOT EXISTS bytes_total BIGINT;
ALTER TABLE p8."SyncLog" ADD COLUMN IF NOT EXISTS current_file TEXT;
ALTER TABLE p8."SyncLog" ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE p8."SyncLog" ADD COLUMN IF NOT EXISTS progress_at TIMESTAMP;
