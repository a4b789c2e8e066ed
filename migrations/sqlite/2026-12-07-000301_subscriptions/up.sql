-- Subscriptions: remote feeds Harpoon polls (a TAXII 2.1 collection today). The protocols are
-- rows of their own, so a new one is one INSERT on both backends (SQLite cannot alter a CHECK).
CREATE TABLE subscription_protocols (
    name TEXT PRIMARY KEY NOT NULL
);
INSERT INTO subscription_protocols (name) VALUES ('taxii21');

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    -- 'config': defined in the configuration file (read-only over REST); 'api': over REST or the UI
    origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),
    protocol TEXT NOT NULL REFERENCES subscription_protocols (name),
    enabled BOOLEAN NOT NULL,
    -- the non-secret settings as JSON
    config TEXT NOT NULL,
    -- the password or token, XChaCha20-Poly1305-sealed (base64 of nonce and ciphertext)
    secret_sealed TEXT,
    -- the local intake collection the remote objects are stored in
    collection_id TEXT NOT NULL REFERENCES collections (id),
    -- where the next poll starts: opaque to everything but the protocol's poller
    cursor TEXT,
    -- health
    status TEXT NOT NULL DEFAULT 'starting',
    last_success_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    objects_taken BIGINT NOT NULL DEFAULT 0,
    objects_rejected BIGINT NOT NULL DEFAULT 0,
    -- the newest rejection (object id and rule): what the remote sent that Harpoon refused
    last_rejected TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_collection ON subscriptions (collection_id);
