-- Triage: imported emails as drafts with their items, spear-phish events, indicators with their
-- lifecycle and history, whitelist rules, exports, and event sharing.

-- The analyst's whitelist. `applies_to` is an observable kind or 'any'.
CREATE TABLE whitelist_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    match_kind TEXT NOT NULL CHECK (match_kind IN ('exact', 'cidr', 'suffix', 'regex')),
    pattern TEXT NOT NULL,
    applies_to TEXT NOT NULL DEFAULT 'any',
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    builtin BOOLEAN NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (match_kind, pattern, applies_to)
);

-- A spear-phish event: one phish, however many employees reported it.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stix_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    event_type TEXT NOT NULL,
    happened_at BIGINT,
    description TEXT,
    tlp TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    adversary TEXT,
    -- what recognises the same phish reported again (either may be absent)
    message_id TEXT UNIQUE,
    fingerprint TEXT UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An imported email: the raw bytes verbatim, the extraction, and the draft's state.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_sha256 TEXT NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    raw_size BIGINT NOT NULL,
    source TEXT NOT NULL,
    source_metadata TEXT,
    input_kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'committed', 'abandoned', 'failed')),
    error TEXT,
    extraction TEXT,
    subject TEXT,
    sender TEXT,
    reporter TEXT,
    message_id TEXT,
    fingerprint TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    event_id BIGINT REFERENCES events (id) ON DELETE SET NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX imports_state ON imports (state, id);
CREATE INDEX imports_event ON imports (event_id);

-- One row per attribute, attachment and indicator of a draft.
CREATE TABLE draft_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    section TEXT NOT NULL CHECK (section IN ('attribute', 'attachment', 'indicator')),
    item_type TEXT NOT NULL,
    value TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('proposed', 'pruned', 'whitelisted')),
    origin TEXT NOT NULL CHECK (origin IN ('extracted', 'analyst')),
    whitelist_reason TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX draft_items_import ON draft_items (import_id, id);

-- Recipients and reporters of an event (distinct addresses).
CREATE TABLE event_recipients (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('recipient', 'reporter')),
    import_id BIGINT REFERENCES imports (id) ON DELETE SET NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, address)
);

CREATE TABLE indicators (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('review', 'active', 'indirect', 'whitelisted', 'expired')),
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    tlp TEXT NOT NULL,
    description TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    status_changed_at BIGINT NOT NULL,
    -- when an Active indicator expires (NULL: never, or not Active)
    expires_at BIGINT,
    -- the STIX indicator SDO that publishes it; a new one after a revocation
    stix_id TEXT NOT NULL UNIQUE,
    -- created/modified of the last published version (NULL: never published)
    stix_created BIGINT,
    stix_modified BIGINT,
    -- the observed-data and based-on relationship published with it (ids fixed at first publication)
    stix_observed_id TEXT,
    stix_based_on_id TEXT,
    whitelist_rule_id BIGINT REFERENCES whitelist_rules (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX indicators_status ON indicators (status, id);
CREATE INDEX indicators_expiry ON indicators (expires_at);

CREATE TABLE indicator_tags (
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (indicator_id, tag)
);
CREATE INDEX indicator_tags_tag ON indicator_tags (tag);

CREATE TABLE indicator_sources (
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, source)
);

CREATE TABLE indicator_events (
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, event_id)
);
CREATE INDEX indicator_events_event ON indicator_events (event_id);

-- Every change of an indicator: who, when, what, from, to.
CREATE TABLE indicator_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason TEXT
);
CREATE INDEX indicator_history_indicator ON indicator_history (indicator_id, id);

-- Relationships between indicators (url related-to domain, domain resolves-to ip).
CREATE TABLE indicator_relations (
    source_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    rel_type TEXT NOT NULL,
    target_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    stix_id TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, rel_type, target_id)
);
CREATE INDEX indicator_relations_target ON indicator_relations (target_id);

-- STIX objects a partner sent that an indicator was made from.
CREATE TABLE indicator_links (
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    stix_id TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, stix_id)
);

-- Named exports for devices that cannot speak TAXII.
CREATE TABLE exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL CHECK (format IN ('text', 'csv', 'suricata', 'snort', 'stix')),
    filters TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Events shared as reports, and what TLP a collection may receive.
CREATE TABLE event_shares (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    report_stix_id TEXT NOT NULL,
    shared_by TEXT NOT NULL,
    shared_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, collection_id)
);
-- NULL: not a sharing target; else the most permissive TLP it may receive ('clear' .. 'amber+strict')
ALTER TABLE collections ADD COLUMN share_max_tlp TEXT;
-- objects partners POST here become Harpoon indicators (status Review)
ALTER TABLE collections ADD COLUMN intake BOOLEAN NOT NULL DEFAULT 0;

-- How far partner intake has read each intake collection (by membership seq).
CREATE TABLE intake_cursors (
    collection_id TEXT PRIMARY KEY NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);
