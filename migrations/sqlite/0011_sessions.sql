-- The web console's sessions; see the Postgres migration of the same number.
CREATE TABLE IF NOT EXISTS "SyncSession" (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES "SyncApiKey"(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "SyncSession_key" ON "SyncSession" (key_id);
