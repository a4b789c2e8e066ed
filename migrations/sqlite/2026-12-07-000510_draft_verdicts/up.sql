-- The suggested verdict of a draft (issue 20): computed when the draft is stored, kept beside
-- the import rather than in it. `reasons` is the JSON list of signals that produced it;
-- `inputs_version` says which set of signals and weights computed it. An automatic or one-click
-- action (`joined` an event, `closed`) is recorded with what it changed (`action_detail`, JSON),
-- so that it can be undone exactly; `undone_at`/`undone_by` once it was.
CREATE TABLE draft_verdicts (
    import_id BIGINT PRIMARY KEY NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    verdict TEXT NOT NULL CHECK (verdict IN ('known_phish', 'likely_phish', 'unknown', 'likely_benign')),
    score INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',
    computed_at BIGINT NOT NULL,
    inputs_version INTEGER NOT NULL,
    action TEXT CHECK (action IN ('joined', 'closed')),
    action_by TEXT,
    action_at BIGINT,
    action_detail TEXT,
    undone_at BIGINT,
    undone_by TEXT
);
CREATE INDEX draft_verdicts_verdict ON draft_verdicts (verdict, import_id);

-- Registered domains seen in any import, for the "newly seen domain" signal (a lookup per
-- domain instead of a scan of every draft's items).
CREATE TABLE seen_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    first_import_id BIGINT,
    first_seen_at BIGINT NOT NULL
);
