DROP TABLE sightings;
DROP TABLE operation_runs;
