-- Ingestion; see the Postgres migration of the same number. Job times are INTEGER
-- milliseconds since the epoch so that comparing them is exact.
ALTER TABLE "SyncFile" ADD COLUMN ingest_status TEXT;
ALTER TABLE "SyncFile" ADD COLUMN ingest_message TEXT;

CREATE TABLE IF NOT EXISTS "IngestJob" (
    file_id TEXT PRIMARY KEY REFERENCES "SyncFile"(id) ON DELETE CASCADE,
    config_id TEXT NOT NULL,
    userid TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    last_error TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS "IngestJob_due" ON "IngestJob" (status, run_after);

CREATE TABLE IF NOT EXISTS "Resources" (
    id TEXT PRIMARY KEY,
    name TEXT,
    category TEXT,
    content TEXT,
    summary TEXT,
    ordinal INTEGER DEFAULT 0,
    uri TEXT,
    metadata TEXT,
    graph_paths TEXT,
    resource_timestamp TEXT,
    userid TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    sync_file_id TEXT
);
CREATE INDEX IF NOT EXISTS "Resources_sync_file" ON "Resources" (sync_file_id);

CREATE TABLE IF NOT EXISTS "AudioFile" (
    id TEXT PRIMARY KEY,
    userid TEXT,
    project_name TEXT,
    filename TEXT,
    file_size INTEGER,
    content_type TEXT,
    duration REAL,
    upload_date TEXT,
    status TEXT,
    s3_uri TEXT,
    chunks TEXT,
    metadata TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    sync_file_id TEXT
);
CREATE INDEX IF NOT EXISTS "AudioFile_sync_file" ON "AudioFile" (sync_file_id);

CREATE TABLE IF NOT EXISTS "AudioChunk" (
    id TEXT PRIMARY KEY,
    audio_file_id TEXT,
    start_time REAL,
    end_time REAL,
    duration REAL,
    s3_uri TEXT,
    transcription TEXT,
    confidence REAL,
    speaker_id TEXT,
    metadata TEXT,
    userid TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    ordinal INTEGER,
    status TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS "AudioChunk_file" ON "AudioChunk" (audio_file_id, start_time);
