-- A browser login is bound to the browser that started it: the hash of a random value the
-- browser holds in a cookie set when the login starts. A callback in another browser (someone
-- handed the consent link on) has no such cookie and is refused, so nobody can attach their
-- account to another person's tenant.
ALTER TABLE p8."SyncOAuthState" ADD COLUMN IF NOT EXISTS binding_hash VARCHAR;
