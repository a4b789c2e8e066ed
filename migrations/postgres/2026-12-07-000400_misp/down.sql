DROP INDEX misp_links_event;
DROP TABLE misp_links;
DELETE FROM exports WHERE format = 'misp';
ALTER TABLE exports DROP CONSTRAINT exports_format_check;
ALTER TABLE exports ADD CONSTRAINT exports_format_check
    CHECK (format IN ('text', 'csv', 'suricata', 'snort', 'stix'));
