-- The SHA-256 of each stored object's RFC 8785 canonical JSON, computed when a POST is
-- prepared (in parallel, before the write). Adding an object whose id and version are stored
-- compares digests: equal is an exact duplicate, different is a conflict (never merged).
-- Rows stored before this column existed keep NULL: their digest is computed from `json`
-- when an add meets them, so no backfill is needed.
ALTER TABLE stix_objects ADD COLUMN content_sha256 TEXT;
