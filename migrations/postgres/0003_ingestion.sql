-- Ingestion: a durable job queue, and the tables ingestion fills, in Percolate's names and
-- columns (`Resources`, `AudioFile`, `AudioChunk`). Columns beyond Percolate's are marked
-- "p8sync:". The tables may already exist in a Percolate database, so columns are added, not
-- assumed.

-- p8sync: what ingestion made of the file's current content, for people and `p8sync files`:
-- queued, ingested, transcribed, untranscribed, stored, not_ingestible, retrying, dead, removed.
ALTER TABLE p8."SyncFile" ADD COLUMN IF NOT EXISTS ingest_status VARCHAR;
ALTER TABLE p8."SyncFile" ADD COLUMN IF NOT EXISTS ingest_message TEXT;

-- p8sync: one job per file: "make the derived data of this file match its current state".
-- Re-enqueueing a file that is queued or running resets its job (and voids a running lease).
CREATE TABLE IF NOT EXISTS p8."IngestJob" (
    file_id UUID PRIMARY KEY REFERENCES p8."SyncFile"(id) ON DELETE CASCADE,
    config_id UUID NOT NULL,
    userid UUID NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after TIMESTAMP NOT NULL,
    lease_owner VARCHAR,
    lease_expires_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS "IngestJob_due" ON p8."IngestJob" (run_after)
    WHERE status IN ('queued', 'running');

CREATE TABLE IF NOT EXISTS p8."Resources" (
    id UUID PRIMARY KEY,
    name VARCHAR,
    category VARCHAR,
    content TEXT,
    summary TEXT,
    ordinal INTEGER DEFAULT 0,
    uri VARCHAR,
    metadata JSONB,
    graph_paths TEXT[],
    resource_timestamp TIMESTAMP,
    userid UUID,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
-- p8sync: the synced file a resource was made from (replaced together when it changes).
ALTER TABLE p8."Resources" ADD COLUMN IF NOT EXISTS sync_file_id UUID;
CREATE INDEX IF NOT EXISTS "Resources_sync_file" ON p8."Resources" (sync_file_id);

CREATE TABLE IF NOT EXISTS p8."AudioFile" (
    id UUID PRIMARY KEY,
    userid UUID,
    project_name VARCHAR,
    filename VARCHAR,
    file_size BIGINT,
    content_type VARCHAR,
    duration DOUBLE PRECISION,
    upload_date TIMESTAMP,
    status VARCHAR,
    s3_uri VARCHAR,
    chunks JSONB,
    metadata JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE p8."AudioFile" ADD COLUMN IF NOT EXISTS sync_file_id UUID;
CREATE INDEX IF NOT EXISTS "AudioFile_sync_file" ON p8."AudioFile" (sync_file_id);

CREATE TABLE IF NOT EXISTS p8."AudioChunk" (
    id UUID PRIMARY KEY,
    audio_file_id UUID,
    start_time DOUBLE PRECISION,
    end_time DOUBLE PRECISION,
    duration DOUBLE PRECISION,
    s3_uri VARCHAR,
    transcription TEXT,
    confidence DOUBLE PRECISION,
    speaker_id VARCHAR,
    metadata JSONB,
    userid UUID,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
-- p8sync: the chunk's place in the file, and how its transcription went (pending, transcribed,
-- failed, no_backend) with the reason.
ALTER TABLE p8."AudioChunk" ADD COLUMN IF NOT EXISTS ordinal INTEGER;
ALTER TABLE p8."AudioChunk" ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE p8."AudioChunk" ADD COLUMN IF NOT EXISTS error TEXT;
CREATE INDEX IF NOT EXISTS "AudioChunk_file" ON p8."AudioChunk" (audio_file_id, start_time);
