-- Answers to reporters (issue 20): one admin-editable template per final verdict, off until an
-- administrator turns it on, and the outbox the background sender drains (under the lease
-- `job:notify`). A message is queued in the transaction that made the verdict final, so a
-- restart or an SMTP outage loses nothing; `state` moves queued -> sending -> sent (or failed
-- after the last attempt); a row left `sending` by a stopped instance is retried.
CREATE TABLE notify_templates (
    verdict TEXT PRIMARY KEY NOT NULL CHECK (verdict IN ('phish', 'benign', 'not_phish')),
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id BIGINT REFERENCES imports (id) ON DELETE SET NULL,
    verdict TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX notify_outbox_due ON notify_outbox (state, next_attempt_at);
CREATE UNIQUE INDEX notify_outbox_once ON notify_outbox (import_id, verdict);

-- Reports per reporter (the awareness page) group by these.
CREATE INDEX imports_by_reporter ON imports (reporter, state);
