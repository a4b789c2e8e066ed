-- MISP both ways: a MISP feed is an export format; indicators read from MISP keep where they
-- came from.
ALTER TABLE exports DROP CONSTRAINT exports_format_check;
ALTER TABLE exports ADD CONSTRAINT exports_format_check
    CHECK (format IN ('text', 'csv', 'suricata', 'snort', 'stix', 'misp'));

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
