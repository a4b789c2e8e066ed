-- MISP both ways: a MISP feed is an export format; indicators read from MISP keep where they
-- came from. SQLite cannot change a CHECK constraint in place: exports (which nothing
-- references) is rebuilt.
CREATE TABLE exports_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL CHECK (format IN ('text', 'csv', 'suricata', 'snort', 'stix', 'misp')),
    filters TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO exports_new (id, name, format, filters, options, created_by, created_at)
    SELECT id, name, format, filters, options, created_by, created_at FROM exports;
DROP TABLE exports;
ALTER TABLE exports_new RENAME TO exports;

-- Where an indicator came from in MISP: the attribute (its uuid kept as sent) and the event it
-- was in, for indicators read from MISP event JSON (an upload or a MISP feed).
CREATE TABLE misp_links (
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    attribute_uuid TEXT NOT NULL,
    event_uuid TEXT NOT NULL,
    event_info TEXT NOT NULL,
    orgc TEXT NOT NULL,
    -- what brought it: "upload by NAME" or a feed's name
    via TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, attribute_uuid)
);
CREATE INDEX misp_links_event ON misp_links (event_uuid);
