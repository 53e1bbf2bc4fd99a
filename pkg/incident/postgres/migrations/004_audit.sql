-- The sign-off audit trail (pkg/audit), see the SQLite driver's 004. Entries
-- are appended by the one write path (audit.go) under a transaction-level
-- advisory lock, so replicas appending at once still make one linear chain.

CREATE TABLE audit_log (
    seq      BIGINT PRIMARY KEY,
    at       TEXT   COLLATE "C" NOT NULL,
    login    TEXT   NOT NULL,
    name     TEXT   NOT NULL,
    role     TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    subject  TEXT   COLLATE "C" NOT NULL,
    incident BIGINT NOT NULL DEFAULT 0,
    before   TEXT   CHECK (before IS NULL OR (before::json) IS NOT NULL),
    after    TEXT   CHECK (after IS NULL OR (after::json) IS NOT NULL),
    comment  TEXT   NOT NULL,
    prev     TEXT   NOT NULL,
    hash     TEXT   NOT NULL UNIQUE
);

CREATE INDEX audit_log_incident ON audit_log (incident, seq) WHERE incident <> 0;
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- Append-only: MeshWatch never updates or deletes an entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE decisions (
    subject    TEXT   COLLATE "C" PRIMARY KEY,
    incident   BIGINT NOT NULL DEFAULT 0,
    status     TEXT   COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    body       TEXT   CHECK (body IS NULL OR (body::json) IS NOT NULL),
    updated_at TEXT   COLLATE "C" NOT NULL,
    login      TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    role       TEXT   NOT NULL
);

CREATE INDEX decisions_incident ON decisions (incident, subject);
CREATE INDEX decisions_status ON decisions (status, incident);
