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

-- A run whose instance stopped while it was running ends `interrupted`.
ALTER TABLE operation_runs DROP CONSTRAINT operation_runs_status_check;
ALTER TABLE operation_runs ADD CONSTRAINT operation_runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted'));
