ALTER TABLE api_tokens DROP COLUMN exports;
ALTER TABLE api_tokens DROP COLUMN expires_at;

-- Partner accounts cannot exist without the role: they become disabled readers (nothing that
-- references them is lost) before the CHECK goes back.
UPDATE users SET role = 'reader', disabled = 1 WHERE role = 'partner';
PRAGMA legacy_alter_table = ON;
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reader')),
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);
INSERT INTO users_new (id, username, password_hash, role, disabled, created_at, password_changed_at)
    SELECT id, username, password_hash, role, disabled, created_at, password_changed_at FROM users;
ALTER TABLE users RENAME TO users_old;
ALTER TABLE users_new RENAME TO users;
DROP TABLE users_old;
PRAGMA legacy_alter_table = OFF;
