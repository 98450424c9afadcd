-- p8sync: `GET /sync/files?status=...` pages by id within one config or one user. Without the
-- status in the index, a filter that matches few rows (the failed files, say) walks every file
-- of the config to find a page of them.
CREATE INDEX IF NOT EXISTS "SyncFile_config_status_page" ON p8."SyncFile" (config_id, status, id);
CREATE INDEX IF NOT EXISTS "SyncFile_user_status_page" ON p8."SyncFile" (userid, status, id);
