DROP INDEX imports_fingerprint;
DROP INDEX imports_message_id;
