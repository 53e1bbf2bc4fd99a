-- The sign-off audit trail (pkg/audit): a hash chain of human decisions,
-- and each suggestion's current decision beside it. Neither refers to
-- incidents: the record of a decision outlives the incident's retention.

-- One entry per decision, seq counting from 1 without gaps; hash is sha256
-- over prev and the entry's canonical form (audit.HashOf). Entries are only
-- ever appended, by the one write path (audit.go), under the writer lock.
CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    login    TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    role     TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    incident INTEGER NOT NULL DEFAULT 0,
    before   TEXT CHECK (before IS NULL OR json_valid(before)),
    after    TEXT CHECK (after IS NULL OR json_valid(after)),
    comment  TEXT    NOT NULL,
    prev     TEXT    NOT NULL,
    hash     TEXT    NOT NULL UNIQUE
);

CREATE INDEX audit_log_incident ON audit_log (incident, seq) WHERE incident <> 0;
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- Append-only: MeshWatch never updates or deletes an entry. (Someone with
-- the file can drop these triggers; the hash chain is what shows it.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Each subject's (suggestion's) current state: status, version (from 1,
-- one up per decision, for optimistic concurrency) and body, changed only
-- in the transaction that appends its entry.
CREATE TABLE decisions (
    subject    TEXT    PRIMARY KEY,
    incident   INTEGER NOT NULL DEFAULT 0,
    status     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    body       TEXT CHECK (body IS NULL OR json_valid(body)),
    updated_at TEXT    NOT NULL,
    login      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL
);

CREATE INDEX decisions_incident ON decisions (incident, subject);
CREATE INDEX decisions_status ON decisions (status, incident);
