-- Several accounts per provider; see the Postgres migration of the same number.
ALTER TABLE "SyncCredential" ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE "SyncCredential" ADD COLUMN server_url TEXT;
UPDATE "SyncCredential" SET label = COALESCE(NULLIF(provider_user_id, ''), provider)
    WHERE label = '';
DROP INDEX IF EXISTS "SyncCredential_user_provider";
CREATE UNIQUE INDEX IF NOT EXISTS "SyncCredential_user_provider_label"
    ON "SyncCredential" (userid, provider, label);
ALTER TABLE "SyncConfig" ADD COLUMN credential_id TEXT;
UPDATE "SyncConfig" SET credential_id = (
    SELECT k.id FROM "SyncCredential" k
    WHERE k.userid = "SyncConfig".userid AND k.provider = "SyncConfig".provider)
    WHERE credential_id IS NULL;
ALTER TABLE "SyncOAuthState" ADD COLUMN credential_id TEXT;
ALTER TABLE "SyncOAuthState" ADD COLUMN label TEXT;
