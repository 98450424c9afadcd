-- Credentials encrypted at rest. `access_token` and `refresh_token` keep Percolate's names but
-- hold sealed values (base64 of nonce || AES-256-GCM ciphertext); `key_id` names the key that
-- sealed them, so keys can be rotated. Columns beyond Percolate's are marked "p8sync:".
-- p8sync: which encryption key sealed the tokens (NULL: a plaintext row imported from Percolate).
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS key_id VARCHAR;
-- p8sync: the scopes the provider granted, space separated.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS scopes TEXT;
-- p8sync: the refresh token stopped working (invalid_grant); nothing syncs until a new login.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS needs_reauth BOOLEAN NOT NULL DEFAULT FALSE;
-- p8sync: why it needs a new login, for people.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS reauth_reason TEXT;
-- p8sync: when the access token was last refreshed.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS refreshed_at TIMESTAMP;
-- One credential per user and provider: configs find theirs by (userid, provider).
CREATE UNIQUE INDEX IF NOT EXISTS "SyncCredential_user_provider"
    ON p8."SyncCredential" (userid, provider);
