-- Each incident's latest evidence capture (see the SQLite driver's 002).

ALTER TABLE incidents ADD COLUMN top_finding TEXT NOT NULL DEFAULT '';

-- listed: a complete batch (a reconcile) of the record's source listed it.
ALTER TABLE records ADD COLUMN listed BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE evidence (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    captured_at TEXT   COLLATE "C" NOT NULL,
    pack        TEXT   NOT NULL CHECK ((pack::json) IS NOT NULL),
    findings    TEXT   NOT NULL CHECK ((findings::json) IS NOT NULL),
    partial     TEXT   NOT NULL DEFAULT '[]' CHECK ((partial::json) IS NOT NULL)
);
