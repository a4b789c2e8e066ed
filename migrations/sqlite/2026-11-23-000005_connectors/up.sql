-- Mailbox connectors (IMAP, POP3): their configuration (the password sealed with the
-- connector key, or the name of an environment variable), their health, and what they took.

CREATE TABLE connectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    -- 'config': defined in the configuration file (read-only over REST); 'api': over REST
    origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),
    protocol TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3')),
    enabled BOOLEAN NOT NULL,
    -- the non-secret settings as JSON
    config TEXT NOT NULL,
    -- the password, XChaCha20-Poly1305-sealed (base64 of nonce and ciphertext)
    password_sealed TEXT,
    -- IMAP: the folder's UIDVALIDITY and the highest UID taken
    uid_validity BIGINT,
    last_uid BIGINT,
    -- health
    status TEXT NOT NULL DEFAULT 'starting',
    last_success_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    messages_taken BIGINT NOT NULL DEFAULT 0,
    messages_failed BIGINT NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A message a connector has stored (IMAP: 'UIDVALIDITY:UID'; POP3: the UIDL), kept while the
-- message is still waiting on the server, so it is neither fetched nor counted twice.
CREATE TABLE connector_seen (
    connector_id BIGINT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    import_id BIGINT REFERENCES imports (id) ON DELETE SET NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (connector_id, message_key)
);
