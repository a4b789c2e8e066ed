-- TLP on every way out (issue 14). Ranks: 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red.
-- Every collection has a ceiling (the most restrictive TLP it may hold and serve). Those that
-- were sharing targets keep their share_max_tlp as ceiling; every other one, active-indicators
-- included, gets AMBER (the safe default; RED leaves only to a collection set to red later).
ALTER TABLE collections ADD COLUMN tlp_ceiling INTEGER NOT NULL DEFAULT 2;
ALTER TABLE collections ADD COLUMN share_target BOOLEAN NOT NULL DEFAULT 0;
UPDATE collections SET share_target = 1,
    tlp_ceiling = CASE share_max_tlp WHEN 'clear' THEN 0 WHEN 'green' THEN 1 WHEN 'amber+strict' THEN 3 ELSE 2 END
    WHERE share_max_tlp IS NOT NULL;
ALTER TABLE collections DROP COLUMN share_max_tlp;

-- Each membership's TLP rank, so that a page serves only rows within the collection's ceiling
-- (lowering a ceiling takes effect at once). Existing rows: the most restrictive TLP marking id
-- their text mentions (a TLP marking definition itself is public), else the collection's
-- ceiling, as for an unmarked object a writer sends.
ALTER TABLE collection_objects ADD COLUMN tlp_rank INTEGER NOT NULL DEFAULT 0;
UPDATE collection_objects SET tlp_rank = (
    SELECT CASE
        WHEN so.stix_type = 'marking-definition' THEN 0
        WHEN so.json LIKE '%e828b379-4e03-4974-9ac4-e53a884c97c1%'
          OR so.json LIKE '%5e57c739-391a-4eb3-b6be-7d15ca92d5ed%' THEN 4
        WHEN so.json LIKE '%939a9414-2ddd-4d32-a0cd-375ea402b003%' THEN 3
        WHEN so.json LIKE '%55d920b0-5e8b-4f79-9ee9-91f868d9b421%'
          OR so.json LIKE '%f88d31f6-486f-44da-b317-01333bde0b82%' THEN 2
        WHEN so.json LIKE '%bab4a63c-aed9-4cf5-a766-dfca5abac2bb%'
          OR so.json LIKE '%34098fce-860f-48ae-8e50-ebd3cc5e41da%' THEN 1
        WHEN so.json LIKE '%94868c89-83c2-464b-929b-a1a8aa3c8487%'
          OR so.json LIKE '%613f2e26-407d-48c7-9eca-b8e91df99dc9%' THEN 0
        ELSE (SELECT c.tlp_ceiling FROM collections c WHERE c.id = collection_objects.collection_id)
    END
    FROM stix_objects so WHERE so.pk = collection_objects.object_pk
);
-- The keyset index carries the rank, so the ceiling is checked in the index, not the table.
DROP INDEX collection_objects_page;
CREATE INDEX collection_objects_page ON collection_objects (collection_id, date_added, seq, tlp_rank);
