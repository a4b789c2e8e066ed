-- Web UI sessions, in the database so that several instances behind a load balancer share them.
-- The cookie holds a random session id; only its SHA-256 is stored. The CSRF token is per session.

CREATE TABLE web_sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
