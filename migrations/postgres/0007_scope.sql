-- Config changes are safe (issue 14): the scope a change cursor was saved under, so a sync
-- whose filters changed lists everything once instead of trusting the old cursor; and the
-- `excluded` status for files a config's filters now leave out (their objects are kept).
ALTER TABLE p8."SyncConfig" ADD COLUMN IF NOT EXISTS cursor_scope VARCHAR;
ALTER TABLE p8."SyncFile" DROP CONSTRAINT IF EXISTS "SyncFile_status_check";
ALTER TABLE p8."SyncFile" ADD CONSTRAINT "SyncFile_status_check"
    CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped', 'excluded'));
