DROP INDEX collection_objects_by_stix_id;
ALTER TABLE collection_objects DROP COLUMN stix_id;
ALTER TABLE collection_objects DROP COLUMN is_latest;
ALTER TABLE collection_objects DROP COLUMN is_first;
ALTER TABLE collections DROP COLUMN api_root;
