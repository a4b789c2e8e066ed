DROP INDEX collection_objects_page;
CREATE INDEX collection_objects_page ON collection_objects (collection_id, date_added, seq);
ALTER TABLE collection_objects DROP COLUMN tlp_rank;
ALTER TABLE collections ADD COLUMN share_max_tlp TEXT;
UPDATE collections SET share_max_tlp = CASE tlp_ceiling
    WHEN 0 THEN 'clear' WHEN 1 THEN 'green' WHEN 3 THEN 'amber+strict' ELSE 'amber' END
    WHERE share_target;
ALTER TABLE collections DROP COLUMN share_target;
ALTER TABLE collections DROP COLUMN tlp_ceiling;
