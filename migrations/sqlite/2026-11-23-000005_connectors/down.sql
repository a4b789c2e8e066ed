DROP TABLE connector_seen;
DROP TABLE connectors;
