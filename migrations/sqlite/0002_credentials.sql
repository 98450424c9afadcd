-- Credentials encrypted at rest; see the Postgres migration of the same number.
ALTER TABLE "SyncCredential" ADD COLUMN key_id TEXT;
ALTER TABLE "SyncCredential" ADD COLUMN scopes TEXT;
ALTER TABLE "SyncCredential" ADD COLUMN needs_reauth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "SyncCredential" ADD COLUMN reauth_reason TEXT;
ALTER TABLE "SyncCredential" ADD COLUMN refreshed_at TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS "SyncCredential_user_provider"
    ON "SyncCredential" (userid, provider);
