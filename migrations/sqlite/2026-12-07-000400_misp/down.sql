DROP INDEX misp_links_event;
DROP TABLE misp_links;
DELETE FROM exports WHERE format = 'misp';
CREATE TABLE exports_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL CHECK (format IN ('text', 'csv', 'suricata', 'snort', 'stix')),
    filters TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO exports_new (id, name, format, filters, options, created_by, created_at)
    SELECT id, name, format, filters, options, created_by, created_at FROM exports;
DROP TABLE exports;
ALTER TABLE exports_new RENAME TO exports;
