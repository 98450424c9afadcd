-- Sync state for the embedded SQLite store: the same tables and columns as the Postgres schema (see
-- ../postgres/0001_sync_state.sql); uuids and timestamps are TEXT (RFC 3339, UTC), JSON is TEXT.


CREATE TABLE IF NOT EXISTS "SyncCredential" (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    userid TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    token_expiry TEXT,
    provider_user_id TEXT,
    provider_metadata TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS "SyncConfig" (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    userid TEXT NOT NULL,
    enabled BOOLEAN DEFAULT TRUE,
    sync_interval_hours INTEGER DEFAULT 24,
    last_sync_at TEXT,
    next_sync_at TEXT,
    include_folders TEXT,
    exclude_folders TEXT,
    include_file_types TEXT,
    exclude_file_types TEXT,
    provider_config TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: the provider's change-feed cursor, saved after a complete sync.
    change_cursor TEXT,
    -- p8sync: remove objects when their remote file is deleted (default: keep them).
    mirror_deletes BOOLEAN NOT NULL DEFAULT FALSE,
    -- p8sync: skip files larger than this many bytes (NULL: no limit).
    max_file_size INTEGER,
    -- p8sync: the replica holding this config, and until when (claimed with SKIP LOCKED).
    lease_owner TEXT,
    lease_expires_at TEXT
);
CREATE INDEX IF NOT EXISTS "SyncConfig_due" ON "SyncConfig" (next_sync_at) WHERE enabled;

CREATE TABLE IF NOT EXISTS "SyncFile" (
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
        CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped')),
    last_sync_at TEXT,
    sync_attempts INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    ingested BOOLEAN NOT NULL DEFAULT FALSE,
    resource_id TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: the provider's revision/version of the synced content.
    remote_revision TEXT,
    -- p8sync: the provider's checksum, as `algorithm:value`.
    remote_checksum TEXT,
    UNIQUE (config_id, remote_id)
);
CREATE INDEX IF NOT EXISTS "SyncFile_status" ON "SyncFile" (config_id, status);

CREATE TABLE IF NOT EXISTS "SyncLog" (
    id TEXT PRIMARY KEY,
    config_id TEXT NOT NULL REFERENCES "SyncConfig"(id) ON DELETE CASCADE,
    userid TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'syncing', 'success', 'partial', 'failed', 'cancelled')),
    started_at TEXT,
    completed_at TEXT,
    duration_seconds REAL,
    files_total INTEGER NOT NULL DEFAULT 0,
    files_synced INTEGER NOT NULL DEFAULT 0,
    files_failed INTEGER NOT NULL DEFAULT 0,
    files_unchanged INTEGER NOT NULL DEFAULT 0,
    bytes_synced INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    detailed_log TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: remote files found gone in this run.
    files_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS "SyncLog_config" ON "SyncLog" (config_id, started_at DESC);
