-- Sync state, in Percolate's schema and with its table and column names, so existing Percolate
-- tooling can read it. Columns beyond Percolate's are marked "p8sync:".
CREATE SCHEMA IF NOT EXISTS p8;

CREATE TABLE IF NOT EXISTS p8."SyncCredential" (
    id UUID PRIMARY KEY,
    provider VARCHAR NOT NULL,
    userid UUID NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    token_expiry TIMESTAMP,
    provider_user_id VARCHAR,
    provider_metadata JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS p8."SyncConfig" (
    id UUID PRIMARY KEY,
    name VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    userid UUID NOT NULL,
    enabled BOOLEAN DEFAULT TRUE,
    sync_interval_hours INTEGER DEFAULT 24,
    last_sync_at TIMESTAMP,
    next_sync_at TIMESTAMP,
    include_folders JSONB,
    exclude_folders JSONB,
    include_file_types JSONB,
    exclude_file_types JSONB,
    provider_config JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: the provider's change-feed cursor, saved after a complete sync.
    change_cursor TEXT,
    -- p8sync: remove objects when their remote file is deleted (default: keep them).
    mirror_deletes BOOLEAN NOT NULL DEFAULT FALSE,
    -- p8sync: skip files larger than this many bytes (NULL: no limit).
    max_file_size BIGINT,
    -- p8sync: the replica holding this config, and until when (claimed with SKIP LOCKED).
    lease_owner VARCHAR,
    lease_expires_at TIMESTAMP
);
CREATE INDEX IF NOT EXISTS "SyncConfig_due" ON p8."SyncConfig" (next_sync_at) WHERE enabled;

CREATE TABLE IF NOT EXISTS p8."SyncFile" (
    id UUID PRIMARY KEY,
    config_id UUID NOT NULL REFERENCES p8."SyncConfig"(id) ON DELETE CASCADE,
    userid UUID NOT NULL,
    remote_id VARCHAR NOT NULL,
    remote_path VARCHAR,
    remote_name VARCHAR,
    remote_type VARCHAR,
    remote_size BIGINT,
    remote_modified_at TIMESTAMP,
    remote_created_at TIMESTAMP,
    remote_metadata JSONB,
    s3_uri VARCHAR,
    local_size BIGINT,
    local_modified_at TIMESTAMP,
    local_checksum VARCHAR,
    status VARCHAR NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped')),
    last_sync_at TIMESTAMP,
    sync_attempts INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    ingested BOOLEAN NOT NULL DEFAULT FALSE,
    resource_id UUID,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: the provider's revision/version of the synced content.
    remote_revision VARCHAR,
    -- p8sync: the provider's checksum, as `algorithm:value`.
    remote_checksum VARCHAR,
    UNIQUE (config_id, remote_id)
);
CREATE INDEX IF NOT EXISTS "SyncFile_status" ON p8."SyncFile" (config_id, status);

CREATE TABLE IF NOT EXISTS p8."SyncLog" (
    id UUID PRIMARY KEY,
    config_id UUID NOT NULL REFERENCES p8."SyncConfig"(id) ON DELETE CASCADE,
    userid UUID NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'syncing', 'success', 'partial', 'failed', 'cancelled')),
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    duration_seconds DOUBLE PRECISION,
    files_total INTEGER NOT NULL DEFAULT 0,
    files_synced INTEGER NOT NULL DEFAULT 0,
    files_failed INTEGER NOT NULL DEFAULT 0,
    files_unchanged INTEGER NOT NULL DEFAULT 0,
    bytes_synced BIGINT NOT NULL DEFAULT 0,
    error_message TEXT,
    detailed_log JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    -- p8sync: remote files found gone in this run.
    files_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS "SyncLog_config" ON p8."SyncLog" (config_id, started_at DESC);
