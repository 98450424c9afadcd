-- no-transaction
-- See the Postgres migration of the same number. SQLite can't change a CHECK constraint in
-- place, so "SyncFile" is rebuilt (SQLite's documented procedure): foreign keys off so that
-- dropping the old table does not cascade to the ingestion jobs that reference it.
PRAGMA foreign_keys = OFF;
BEGIN;
ALTER TABLE "SyncConfig" ADD COLUMN cursor_scope TEXT;
CREATE TABLE "SyncFile_rebuilt" (
    id TEXT PRIMARY KEY,
    config_id TEXT NOT NULL REFERENCES "SyncConfig"(id) ON DELETE CASCADE,
    userid TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    remote_path TEXT,
    remote_name TEXT,
    remote_type TEXT,
    remote_size INTEGER,
    remote_modified_at TEXT,
    remote_created_at TEXT,
    remote_metadata TEXT,
    s3_uri TEXT,
    local_size INTEGER,
    local_modified_at TEXT,
    local_checksum TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped', 'excluded')),
    last_sync_at TEXT,
    sync_attempts INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    ingested BOOLEAN NOT NULL DEFAULT FALSE,
    resource_id TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    remote_revision TEXT,
    remote_checksum TEXT,
    ingest_status TEXT,
    ingest_message TEXT,
    UNIQUE (config_id, remote_id)
);
INSERT INTO "SyncFile_rebuilt" (
    id, config_id, userid, remote_id, remote_path, remote_name, remote_type, remote_size,
    remote_modified_at, remote_created_at, remote_metadata, s3_uri, local_size,
    local_modified_at, local_checksum, status, last_sync_at, sync_attempts, error_message,
    ingested, resource_id, created_at, updated_at, remote_revision, remote_checksum,
    ingest_status, ingest_message)
SELECT
    id, config_id, userid, remote_id, remote_path, remote_name, remote_type, remote_size,
    remote_modified_at, remote_created_at, remote_metadata, s3_uri, local_size,
    local_modified_at, local_checksum, status, last_sync_at, sync_attempts, error_message,
    ingested, resource_id, created_at, updated_at, remote_revision, remote_checksum,
    ingest_status, ingest_message
FROM "SyncFile";
DROP TABLE "SyncFile";
ALTER TABLE "SyncFile_rebuilt" RENAME TO "SyncFile";
CREATE INDEX IF NOT EXISTS "SyncFile_status" ON "SyncFile" (config_id, status);
CREATE INDEX IF NOT EXISTS "SyncFile_user_page" ON "SyncFile" (userid, id);
CREATE INDEX IF NOT EXISTS "SyncFile_config_page" ON "SyncFile" (config_id, id);
CREATE INDEX IF NOT EXISTS "SyncFile_config_status_page" ON "SyncFile" (config_id, status, id);
CREATE INDEX IF NOT EXISTS "SyncFile_user_status_page" ON "SyncFile" (userid, status, id);
COMMIT;
PRAGMA foreign_keys = ON;
