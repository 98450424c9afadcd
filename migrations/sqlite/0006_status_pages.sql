-- Status-filtered file pages; see the Postgres migration of the same number.
CREATE INDEX IF NOT EXISTS "SyncFile_config_status_page" ON "SyncFile" (config_id, status, id);
CREATE INDEX IF NOT EXISTS "SyncFile_user_status_page" ON "SyncFile" (userid, status, id);
