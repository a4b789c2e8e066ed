-- Campaigns (issue 20): drafts grouped by shared infrastructure and kit. A draft's keys
-- (registered domains, public IPs, URL path shapes, SimHash bands of its HTML) are stored at
-- import; a draft sharing a key with another joins (or merges) their campaign. Events belong to
-- a campaign through the drafts committed into them. A merged campaign keeps its row, pointing
-- at the one it went into, so its links still lead somewhere.
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    merged_into BIGINT REFERENCES campaigns (id) ON DELETE SET NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX campaigns_by_last_seen ON campaigns (last_seen);

-- One row per draft whose keys were computed: its campaign (none while it shares nothing), its
-- SimHash (the 64 bits, signed), and why it joined (JSON: the keys and the draft it shared them
-- with).
CREATE TABLE campaign_drafts (
    import_id BIGINT PRIMARY KEY NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE SET NULL,
    simhash BIGINT,
    linked_by TEXT NOT NULL DEFAULT '[]',
    added_at BIGINT NOT NULL
);
CREATE INDEX campaign_drafts_by_campaign ON campaign_drafts (campaign_id, import_id);

-- The keys of each draft (kind: domain, ip, path, html; html values are SimHash bands).
CREATE TABLE campaign_keys (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    import_id BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, import_id)
);
CREATE INDEX campaign_keys_by_import ON campaign_keys (import_id);
