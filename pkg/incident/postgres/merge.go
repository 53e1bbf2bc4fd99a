package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Regroup applies a grouping in one transaction (see incident.Merger and
// incident.PlanRegroup): the incidents' merged_into and the merge_events
// rows commit together or not at all.
func (s *Store) Regroup(ctx context.Context, now time.Time, r incident.Regrouping) ([]incident.MergeEvent, error) {
	if now.IsZero() {
		return nil, errors.New("incident store: regroup: no time given")
	}
	if err := checkTime("regroup time", now); err != nil {
		return nil, fmt.Errorf("incident store: regroup: %w", err)
	}
	ids := r.Ids()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("incident store: regroup: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// One regrouping at a time across replicas: each reads what the last
	// one committed.
	if err := xactLock(ctx, tx, lockRegroup); err != nil {
		return nil, fmt.Errorf("incident store: regroup: lock: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, COALESCE(merged_into, 0) FROM incidents
		WHERE id = ANY($1) OR merged_into = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("incident store: regroup: %w", err)
	}
	current := map[int64]int64{}
	for rows.Next() {
		var id, root int64
		if err := rows.Scan(&id, &root); err != nil {
			rows.Close()
			return nil, fmt.Errorf("incident store: regroup: %w", err)
		}
		current[id] = root
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("incident store: regroup: %w", err)
	}
	set, events, err := incident.PlanRegroup(current, r, now)
	if err != nil {
		return nil, fmt.Errorf("incident store: %w", err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	changed := make([]int64, 0, len(set))
	for id := range set {
		changed = append(changed, id)
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i] < changed[j] })
	for _, id := range changed {
		var to any
		if root := set[id]; root != 0 {
			to = root
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET merged_into = $1 WHERE id = $2`, to, id); err != nil {
			return nil, fmt.Errorf("incident store: regroup: incident %d: %w", id, err)
		}
	}
	for i := range events {
		e := &events[i]
		members, err := json.Marshal(e.Members)
		if err != nil {
			return nil, fmt.Errorf("incident store: regroup: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO merge_events (at, kind, root_id, members, reason)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, encodeTime(e.At), string(e.Kind), e.Root, string(members), e.Reason).Scan(&e.ID); err != nil {
			return nil, fmt.Errorf("incident store: regroup: record the %s of %d: %w", e.Kind, e.Root, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("incident store: regroup: commit: %w", err)
	}
	return events, nil
}

// MergeEvents returns the merges and splits that name incident id (see
// incident.Merger).
func (s *Store) MergeEvents(ctx context.Context, id int64) ([]incident.MergeEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, kind, root_id, members, reason FROM merge_events
		WHERE root_id = $1 OR EXISTS (SELECT 1 FROM json_array_elements_text(members::json) m WHERE m::bigint = $1) ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("incident store: merge events of %d: %w", id, err)
	}
	defer rows.Close()
	out := []incident.MergeEvent{}
	for rows.Next() {
		var e incident.MergeEvent
		var at sql.NullString
		var kind, members string
		if err := rows.Scan(&e.ID, &at, &kind, &e.Root, &members, &e.Reason); err != nil {
			return nil, fmt.Errorf("incident store: merge events of %d: %w", id, err)
		}
		e.Kind = incident.MergeKind(kind)
		if e.At, err = decodeTime(at); err != nil {
			return nil, fmt.Errorf("incident store: merge events of %d: %w", id, err)
		}
		if err := json.Unmarshal([]byte(members), &e.Members); err != nil {
			return nil, fmt.Errorf("incident store: merge events of %d: %w", id, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("incident store: merge events of %d: %w", id, err)
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// fillMerge fills the Merge of each incident of incs from q (one snapshot
// when q is a transaction): its root, its affected incidents and the
// group's counts.
func fillMerge(ctx context.Context, q querier, incs []incident.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	idx := make(map[int64]int, len(incs))
	ids := make([]int64, len(incs))
	for i := range incs {
		ids[i], idx[incs[i].ID] = incs[i].ID, i
		m := &incs[i].Merge
		*m = incident.Merge{GroupAlerts: incs[i].Alerts, GroupFiring: incs[i].Firing, GroupWorkloads: 1, GroupSeverity: incs[i].Severity}
	}
	rows, err := q.QueryContext(ctx, `SELECT id, COALESCE(merged_into, 0), alerts, firing, group_key, severity FROM incidents
		WHERE (id = ANY($1) AND merged_into IS NOT NULL) OR merged_into = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return fmt.Errorf("merged incidents: %w", err)
	}
	defer rows.Close()
	keys := map[int64]map[string]bool{}
	for rows.Next() {
		var id, root int64
		var alerts, firing int
		var key, severity string
		if err := rows.Scan(&id, &root, &alerts, &firing, &key, &severity); err != nil {
			return fmt.Errorf("merged incidents: %w", err)
		}
		if i, ok := idx[id]; ok {
			incs[i].MergedInto = root
		}
		i, ok := idx[root]
		if !ok {
			continue
		}
		r := &incs[i]
		if keys[root] == nil {
			keys[root] = map[string]bool{r.Key.String(): true}
		}
		r.Affected = append(r.Affected, id)
		r.GroupAlerts += alerts
		r.GroupFiring += firing
		keys[root][key] = true
		r.GroupWorkloads = len(keys[root])
		if incident.MoreSevere(severity, r.GroupSeverity) {
			r.GroupSeverity = severity
		}
	}
	return rows.Err()
}
