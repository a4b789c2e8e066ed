-- Partner accounts (another organisation: TAXII only) and tokens that cannot outgrow their
-- purpose (an expiry; an `export` token bound to named exports).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'analyst', 'reader', 'partner'));

ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
-- An `export` token's exports, as a JSON array of names; NULL for other scopes.
ALTER TABLE api_tokens ADD COLUMN exports TEXT;
