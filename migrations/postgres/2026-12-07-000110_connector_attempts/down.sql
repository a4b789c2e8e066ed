DROP TABLE connector_attempts;
