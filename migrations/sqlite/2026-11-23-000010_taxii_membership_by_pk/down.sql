ALTER TABLE collection_objects ADD COLUMN stix_id TEXT NOT NULL DEFAULT '';
UPDATE collection_objects SET stix_id = (SELECT stix_id FROM stix_objects WHERE pk = collection_objects.object_pk);
CREATE INDEX collection_objects_by_stix_id ON collection_objects (collection_id, stix_id);
