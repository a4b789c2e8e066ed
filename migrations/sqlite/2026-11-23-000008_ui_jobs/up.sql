-- Long work started from the web UI (a big mbox import): its progress, in the database so that
-- whichever instance serves the progress page sees it. `result` is JSON (drafts made, failures).

CREATE TABLE ui_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
