-- One fault, one incident: an incident can be merged into another, its
-- root (incident.Merge), and every merge and split is recorded.

-- merged_into: the root incident this one is merged into; NULL when it is
-- not merged. A root is never merged itself (the store keeps groups one
-- level deep). Pruning a root leaves its members standing alone.
ALTER TABLE incidents ADD COLUMN merged_into INTEGER REFERENCES incidents (id) ON DELETE SET NULL;

-- A root's members, and the list's one row per group.
CREATE INDEX incidents_merged_into ON incidents (merged_into) WHERE merged_into IS NOT NULL;

-- The record of merges and splits: when, which root, which incidents
-- (a JSON array of ids, ascending) and why. It goes with its root when the
-- root is pruned.
CREATE TABLE merge_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT    NOT NULL,
    kind    TEXT    NOT NULL CHECK (kind IN ('merge', 'split')),
    root_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    members TEXT    NOT NULL CHECK (json_valid(members)),
    reason  TEXT    NOT NULL
);

CREATE INDEX merge_events_root ON merge_events (root_id, id);
