ALTER TABLE collection_objects ADD COLUMN stix_id TEXT NOT NULL DEFAULT '';
UPDATE collection_objects SET stix_id = s.stix_id FROM stix_objects s WHERE s.pk = collection_objects.object_pk;
CREATE INDEX collection_objects_by_stix_id ON collection_objects (collection_id, stix_id);
