-- Membership rows no longer repeat the STIX id: lookups by id go through stix_objects
-- (stix_id, version) and then collection_objects (collection_id, object_pk). The index on
-- (collection_id, stix_id) cost one random B-tree leaf write per object stored (STIX ids are
-- random UUIDs), which was half of what ingest wrote at a million objects.
DROP INDEX collection_objects_by_stix_id;
ALTER TABLE collection_objects DROP COLUMN stix_id;
