-- Poison messages: attempts at each mailbox message, counted before it is processed, so a
-- message that keeps failing (or killing the worker) is set aside after a few tries.
CREATE TABLE connector_attempts (
    connector_id BIGINT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (connector_id, message_key)
);
