-- Foundation: accounts, tokens, collections, STIX object store, TAXII status, audit log.
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC): exact, sortable, and the same
-- type on both backends.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reader')),
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_id TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL,
    label TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE collections (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL UNIQUE,
    alias TEXT UNIQUE,
    description TEXT,
    public_read BOOLEAN NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT 'stored' CHECK (kind IN ('stored', 'computed')),
    created_at BIGINT NOT NULL,
    last_date_added BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE collection_grants (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    can_read BOOLEAN NOT NULL,
    can_write BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, collection_id)
);

-- Every version of every STIX object, stored as received.
CREATE TABLE stix_objects (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    stix_id TEXT NOT NULL,
    stix_type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    created BIGINT,
    modified BIGINT,
    -- the TAXII version: modified, else created, else the time first added
    version BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT 0,
    json TEXT NOT NULL,
    UNIQUE (stix_id, version)
);
CREATE INDEX stix_objects_type ON stix_objects (stix_type);

-- Membership of an object version in a collection. seq is global and monotonic, so it is also
-- monotonic per collection; (collection_id, date_added, seq) is the keyset for pagination.
CREATE TABLE collection_objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_pk BIGINT NOT NULL REFERENCES stix_objects (pk) ON DELETE CASCADE,
    date_added BIGINT NOT NULL,
    UNIQUE (collection_id, object_pk)
);
CREATE INDEX collection_objects_page ON collection_objects (collection_id, date_added, seq);

CREATE TABLE taxii_status (
    id TEXT PRIMARY KEY NOT NULL,
    collection_id TEXT NOT NULL,
    user_id BIGINT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'complete')),
    request_timestamp BIGINT NOT NULL,
    total_count BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX taxii_status_expiry ON taxii_status (expires_at);

-- One row per object of a status resource; counts are derived from these rows, so
-- success + failure + pending = total holds by construction.
CREATE TABLE taxii_status_details (
    status_id TEXT NOT NULL REFERENCES taxii_status (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    stix_id TEXT NOT NULL,
    version TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'pending')),
    message TEXT,
    PRIMARY KEY (status_id, position)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    remote_addr TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Server-wide secrets every instance must share (e.g. the TAXII cursor signing key).
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
