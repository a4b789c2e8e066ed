-- Objects of a large TAXII POST waiting to be stored: kept until the chunk that stores them
-- commits, so a server that stops mid-way resumes at start and its status stays truthful.
CREATE TABLE taxii_pending (
    status_id TEXT NOT NULL REFERENCES taxii_status (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    collection_id TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (status_id, position)
);
