ALTER TABLE api_tokens DROP COLUMN exports;
ALTER TABLE api_tokens DROP COLUMN expires_at;

-- Partner accounts become disabled readers before the CHECK goes back.
UPDATE users SET role = 'reader', disabled = TRUE WHERE role = 'partner';
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'analyst', 'reader'));
