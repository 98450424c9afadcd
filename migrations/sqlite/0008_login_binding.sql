-- See the Postgres migration of the same number.
ALTER TABLE "SyncOAuthState" ADD COLUMN binding_hash TEXT;
