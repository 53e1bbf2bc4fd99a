-- Incidents and the alert records they hold.
--
-- Times are text in one fixed-width UTC form, 2006-01-02T15:04:05.000000000Z
-- (RFC 3339 with all nine fractional digits): exact to the nanosecond, so a
-- redelivered alert compares equal to its record, and ordered as text, so
-- indexes and ORDER BY work on it. NULL is the zero time.

CREATE TABLE incidents (
    -- AUTOINCREMENT: an id is never reused, even after Prune empties the
    -- table, so a link to an old incident never shows another one.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_key   TEXT    NOT NULL,            -- incident.Key.String()
    namespace   TEXT    NOT NULL,
    workload    TEXT    NOT NULL,
    alertname   TEXT    NOT NULL,            -- '' unless workload is ''
    state       TEXT    NOT NULL CHECK (state IN ('open', 'resolved')),
    severity    TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    resolved_at TEXT,                         -- NULL while open
    updated_at  TEXT    NOT NULL,
    reopens     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reopens)),
    flapping    INTEGER NOT NULL CHECK (flapping IN (0, 1)),
    alerts      INTEGER NOT NULL,
    firing      INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    CHECK ((state = 'open') = (resolved_at IS NULL))
);

-- At most one open incident per group key, whoever writes: two writers can
-- never open two incidents for one key.
CREATE UNIQUE INDEX incidents_one_open ON incidents (group_key) WHERE state = 'open';

-- The latest resolved incident of a key (the one a firing alert may reopen).
CREATE INDEX incidents_latest_resolved ON incidents (group_key, resolved_at DESC, id DESC) WHERE state = 'resolved';

-- List: open first ('open' < 'resolved'), then the most recently updated.
CREATE INDEX incidents_list ON incidents (state, updated_at DESC, id DESC);

-- Prune: resolved incidents by the time they resolved.
CREATE INDEX incidents_resolved_at ON incidents (resolved_at) WHERE state = 'resolved';

CREATE TABLE records (
    incident_id   INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    labels        TEXT    NOT NULL CHECK (json_valid(labels)),
    annotations   TEXT    NOT NULL CHECK (json_valid(annotations)),
    starts_at     TEXT    NOT NULL,
    ends_at       TEXT,                       -- NULL while firing or unknown
    generator_url TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    first_seen    TEXT    NOT NULL,
    last_seen     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);

-- A complete batch (reconcile) looks up the firing alerts of its source.
CREATE INDEX records_source_status ON records (source, status);
