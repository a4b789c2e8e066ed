-- Operations: runs of an operation on an indicator (who, when, parameters, status, output, what
-- was created, error) and the sightings they found (the STIX objects kept for publication).

CREATE TABLE operation_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out')),
    started_by TEXT NOT NULL,
    parameters TEXT NOT NULL DEFAULT '{}',
    output TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX operation_runs_indicator ON operation_runs (indicator_id, id);

CREATE TABLE sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    run_id BIGINT REFERENCES operation_runs (id) ON DELETE SET NULL,
    stix_id TEXT NOT NULL UNIQUE,
    -- the indicator's STIX id the sighting is of (a revoked indicator gets a new one)
    sighting_of TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    hosts TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    -- the sighting with its observed-data and SCOs, as a JSON array of STIX objects
    objects TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX sightings_indicator ON sightings (indicator_id, id);
