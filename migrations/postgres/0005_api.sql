-- p8sync: the HTTP API's own state.
--
-- API keys: only the SHA-256 of each key is kept. Keys are 256 random bits, so a fast hash is
-- enough (there is nothing to brute-force), and a lookup is one index probe per request.
CREATE TABLE IF NOT EXISTS p8."SyncApiKey" (
    id UUID PRIMARY KEY,
    userid UUID NOT NULL,
    name VARCHAR NOT NULL,
    key_hash VARCHAR NOT NULL UNIQUE,
    is_admin BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS "SyncApiKey_user" ON p8."SyncApiKey" (userid);

-- Browser logins under way: single use (taken with DELETE ... RETURNING), bound to the user who
-- started them, and expiring. Only the hash of `state` is stored, and the PKCE verifier is
-- sealed like the tokens, so a database reader can't finish someone else's login.
CREATE TABLE IF NOT EXISTS p8."SyncOAuthState" (
    state_hash VARCHAR PRIMARY KEY,
    provider VARCHAR NOT NULL,
    userid UUID NOT NULL,
    verifier TEXT NOT NULL,
    key_id VARCHAR,
    callback_url TEXT NOT NULL,
    app_redirect TEXT,
    sync_files BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);

-- `GET /sync/files` pages by id within one user or one config.
CREATE INDEX IF NOT EXISTS "SyncFile_user_page" ON p8."SyncFile" (userid, id);
CREATE INDEX IF NOT EXISTS "SyncFile_config_page" ON p8."SyncFile" (config_id, id);
CREATE INDEX IF NOT EXISTS "SyncLog_user" ON p8."SyncLog" (userid, started_at DESC);
