-- Several accounts per provider: "my work Drive and my personal Drive". Columns beyond
-- Percolate's are p8sync's.
-- p8sync: the person's name for the account (by default the account's email, where the
-- provider says it); unique per user and provider.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS label VARCHAR NOT NULL DEFAULT '';
-- p8sync: the server a WebDAV (or other self-hosted) account lives on; that account's syncs
-- may reach this origin and no other.
ALTER TABLE p8."SyncCredential" ADD COLUMN IF NOT EXISTS server_url TEXT;
-- The rows there are (at most one per user and provider until now) are named after their
-- account, or their provider.
UPDATE p8."SyncCredential" SET label = COALESCE(NULLIF(provider_user_id, ''), provider)
    WHERE label = '';
DROP INDEX IF EXISTS p8."SyncCredential_user_provider";
CREATE UNIQUE INDEX IF NOT EXISTS "SyncCredential_user_provider_label"
    ON p8."SyncCredential" (userid, provider, label);
-- p8sync: the account a config syncs (NULL: the user's only account of the provider). Not a
-- foreign key on purpose: a config whose account was disconnected must fail and say so, not
-- quietly fall back to another account of the same provider.
ALTER TABLE p8."SyncConfig" ADD COLUMN IF NOT EXISTS credential_id UUID;
UPDATE p8."SyncConfig" c SET credential_id = k.id
    FROM p8."SyncCredential" k
    WHERE c.credential_id IS NULL AND k.userid = c.userid AND k.provider = c.provider;
-- A browser login that reconnects one account names it; one that adds an account may carry
-- the label to give it.
ALTER TABLE p8."SyncOAuthState" ADD COLUMN IF NOT EXISTS credential_id UUID;
ALTER TABLE p8."SyncOAuthState" ADD COLUMN IF NOT EXISTS label VARCHAR;
