ALTER TABLE stix_objects DROP COLUMN content_sha256;
