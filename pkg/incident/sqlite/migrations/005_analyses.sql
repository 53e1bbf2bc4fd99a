-- Incidents' LLM write-ups: one row per analysis (an incident is analysed
-- again when its evidence names another fault), the newest shown. The
-- result is JSON as pkg/analysis writes it (the answer, the guard's
-- verdicts, Ollama's timings), opaque to the store; sign-off decisions name
-- an analysis by id.

CREATE TABLE analyses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    evidence_at TEXT,
    started_at  TEXT,
    finished_at TEXT,
    model       TEXT    NOT NULL,
    basis       TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL CHECK (outcome IN ('done', 'failed')),
    result      TEXT    NOT NULL CHECK (json_valid(result))
);

CREATE INDEX analyses_by_incident ON analyses (incident_id, id);
