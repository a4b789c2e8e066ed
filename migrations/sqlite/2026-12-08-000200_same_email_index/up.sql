-- A re-reported email finds the event its first report went to by the first report's own
-- Message-ID or fingerprint (the event's founding email may be another one of the campaign).
CREATE INDEX imports_message_id ON imports (message_id, id);
CREATE INDEX imports_fingerprint ON imports (fingerprint, id);
