-- p8sync: the web console's sessions. A browser signed in with an API key holds a random
-- session token in an HttpOnly cookie; only the token's SHA-256 is kept here. A session ends
-- when it expires, when the person signs out, or with its key (revoking a key signs out every
-- browser that signed in with it).
CREATE TABLE IF NOT EXISTS p8."SyncSession" (
    token_hash VARCHAR PRIMARY KEY,
    key_id UUID NOT NULL REFERENCES p8."SyncApiKey"(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS "SyncSession_key" ON p8."SyncSession" (key_id);
