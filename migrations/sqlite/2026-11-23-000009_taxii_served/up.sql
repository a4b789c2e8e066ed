-- What the TAXII feeds served: requests and objects (or manifest records) per collection and
-- hour. Each instance counts in memory and adds its counts here every few seconds.
CREATE TABLE taxii_served (
    collection_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    objects BIGINT NOT NULL,
    PRIMARY KEY (collection_id, hour)
);
