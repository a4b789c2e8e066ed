-- Partner accounts (another organisation: TAXII only) and tokens that cannot outgrow their
-- purpose (an expiry; an `export` token bound to named exports).
--
-- SQLite cannot change a CHECK constraint in place: the users table is rebuilt. Migrations run
-- with foreign key enforcement off (`db::migrate`, SQLite's documented procedure) and here with
-- `legacy_alter_table` on, so renaming does not rewrite the references of the tables that point
-- at `users`: they follow the name to the new table, and dropping the old one cascades nothing.
PRAGMA legacy_alter_table = ON;
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reader', 'partner')),
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

ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
-- An `export` token's exports, as a JSON array of names; NULL for other scopes.
ALTER TABLE api_tokens ADD COLUMN exports TEXT;
