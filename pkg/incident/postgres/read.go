package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// List returns incidents matching f: open ones first, then the most
// recently updated.
func (s *Store) List(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	var where []string
	var args []any
	switch f.State {
	case "":
	case incident.StateOpen, incident.StateResolved:
		args = append(args, string(f.State))
		where = append(where, fmt.Sprintf("state = $%d", len(args)))
	default:
		return nil, fmt.Errorf("incident store: list: unknown state %q", f.State)
	}
	if f.Severity != "" {
		// Stored as incident.Alert.Severity gives it: lower-cased.
		args = append(args, strings.ToLower(f.Severity))
		where = append(where, fmt.Sprintf("severity = $%d", len(args)))
	}
	if f.Namespace != "" {
		args = append(args, f.Namespace)
		where = append(where, fmt.Sprintf("namespace = $%d", len(args)))
	}
	if f.Grouped {
		where = append(where, "merged_into IS NULL")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = incident.DefaultListLimit
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	// 'open' sorts before 'resolved' (the only two states, by a CHECK).
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY state, updated_at DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("incident store: list: %w", err)
	}
	defer rows.Close()
	out := []incident.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("incident store: list: %w", err)
		}
		out = append(out, inc)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("incident store: list: %w", err)
	}
	if err := fillMerge(ctx, s.db, out); err != nil {
		return nil, fmt.Errorf("incident store: list: %w", err)
	}
	return out, nil
}

// Get returns incident id and its records, firing first (then by startsAt),
// read from one snapshot; incident.ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, id int64) (incident.Incident, []incident.Record, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, err)
	}
	// 'firing' sorts before 'resolved'.
	rows, err := tx.QueryContext(ctx, `SELECT `+recordCols+` FROM records WHERE incident_id = $1 ORDER BY status, starts_at, fingerprint`, id)
	if err != nil {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, err)
	}
	recs, err := scanRecords(rows, id)
	if err != nil {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, err)
	}
	one := []incident.Incident{inc}
	if err := fillMerge(ctx, tx, one); err != nil {
		return incident.Incident{}, nil, fmt.Errorf("incident store: get %d: %w", id, err)
	}
	return one[0], recs, nil
}

// Prune deletes the incidents resolved before before, and their records
// (ON DELETE CASCADE), and says how many incidents went. Open incidents are
// never pruned, however old.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, nil
	}
	if err := checkTime("prune time", before); err != nil {
		return 0, fmt.Errorf("incident store: prune: %w", err)
	}
	r, err := s.db.ExecContext(ctx, `DELETE FROM incidents WHERE state = 'resolved' AND resolved_at < $1`, encodeTime(before))
	if err != nil {
		return 0, fmt.Errorf("incident store: prune: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("incident store: prune: %w", err)
	}
	return int(n), nil
}
