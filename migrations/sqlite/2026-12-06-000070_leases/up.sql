-- One row per leased thing: background work (`run:ID`, `ui-job:ID`, `taxii-ingest:STATUS`) and
-- periodic jobs (`job:NAME`, `connector:ID`). `holder` is an instance id; `expires_at` in
-- microseconds since the epoch. Taken over only when expired (compare-and-set on both).
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX leases_by_holder ON leases (holder);
CREATE INDEX leases_by_expiry ON leases (expires_at);

-- A run whose instance stopped while it was running ends `interrupted` (SQLite cannot alter a
-- CHECK: the table is rebuilt; the migration runner has foreign keys off and checks them after).
CREATE TABLE operation_runs_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    indicator_id BIGINT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted')),
    started_by TEXT NOT NULL,
    parameters TEXT NOT NULL DEFAULT '{}',
    output TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
INSERT INTO operation_runs_new (id, operation, indicator_id, status, started_by, parameters, output, created, error, created_at, started_at, finished_at)
    SELECT id, operation, indicator_id, status, started_by, parameters, output, created, error, created_at, started_at, finished_at FROM operation_runs;
DROP TABLE operation_runs;
ALTER TABLE operation_runs_new RENAME TO operation_runs;
CREATE INDEX operation_runs_indicator ON operation_runs (indicator_id, id);
