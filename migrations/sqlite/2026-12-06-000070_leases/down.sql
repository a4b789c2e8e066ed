UPDATE operation_runs SET status = 'failed' WHERE status = 'interrupted';
CREATE TABLE operation_runs_new (
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
INSERT INTO operation_runs_new (id, operation, indicator_id, status, started_by, parameters, output, created, error, created_at, started_at, finished_at)
    SELECT id, operation, indicator_id, status, started_by, parameters, output, created, error, created_at, started_at, finished_at FROM operation_runs;
DROP TABLE operation_runs;
ALTER TABLE operation_runs_new RENAME TO operation_runs;
CREATE INDEX operation_runs_indicator ON operation_runs (indicator_id, id);
DROP TABLE leases;
