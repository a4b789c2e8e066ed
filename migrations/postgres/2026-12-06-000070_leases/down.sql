UPDATE operation_runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE operation_runs DROP CONSTRAINT operation_runs_status_check;
ALTER TABLE operation_runs ADD CONSTRAINT operation_runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out'));
DROP TABLE leases;
