-- Each incident's latest evidence capture: the evidence pack and the ranked
-- findings (JSON, as pkg/evidence and pkg/findings write them; the store
-- keeps them opaque), and the top finding's one line on the incident, for
-- the list.

ALTER TABLE incidents ADD COLUMN top_finding TEXT NOT NULL DEFAULT '';

-- listed: a complete batch (a reconcile) of the record's source has listed
-- it as active. Only such records are resolved when a later complete batch
-- no longer lists them: an alert that reached MeshWatch only by webhook,
-- perhaps from another Alertmanager, is not the reconciled one's to end.
ALTER TABLE records ADD COLUMN listed INTEGER NOT NULL DEFAULT 0 CHECK (listed IN (0, 1));

CREATE TABLE evidence (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    captured_at TEXT    NOT NULL,
    pack        TEXT    NOT NULL CHECK (json_valid(pack)),
    findings    TEXT    NOT NULL CHECK (json_valid(findings)),
    partial     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(partial))
);
