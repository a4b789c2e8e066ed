-- The dashboard's per-day counts and per-type totals read these indexes instead of scanning
-- the tables (in SQLite the imports table holds the raw emails: reading created_at from its
-- rows walks every row's overflow pages, so the page slowed down as the data grew).
CREATE INDEX imports_created ON imports (created_at);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX indicators_kind_status ON indicators (kind, status);
