-- The HTTP API's own state; see the Postgres migration of the same number.
CREATE TABLE IF NOT EXISTS "SyncApiKey" (
    id TEXT PRIMARY KEY,
    userid TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "SyncApiKey_user" ON "SyncApiKey" (userid);

CREATE TABLE IF NOT EXISTS "SyncOAuthState" (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    userid TEXT NOT NULL,
    verifier TEXT NOT NULL,
    key_id TEXT,
    callback_url TEXT NOT NULL,
    app_redirect TEXT,
    sync_files INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS "SyncFile_user_page" ON "SyncFile" (userid, id);
CREATE INDEX IF NOT EXISTS "SyncFile_config_page" ON "SyncFile" (config_id, id);
CREATE INDEX IF NOT EXISTS "SyncLog_user" ON "SyncLog" (userid, started_at DESC);
