-- TAXII: collections belong to an API root; membership rows know whether they hold the first
-- and/or the latest version of their object in that collection, so that `match[version]`
-- (default `last`) is a plain predicate on the keyset-ordered index scan.
ALTER TABLE collections ADD COLUMN api_root TEXT NOT NULL DEFAULT 'root';
ALTER TABLE collection_objects ADD COLUMN is_first BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE collection_objects ADD COLUMN is_latest BOOLEAN NOT NULL DEFAULT TRUE;
-- denormalised from stix_objects so that object lookups in a collection need one index
ALTER TABLE collection_objects ADD COLUMN stix_id TEXT NOT NULL DEFAULT '';
CREATE INDEX collection_objects_by_stix_id ON collection_objects (collection_id, stix_id);
