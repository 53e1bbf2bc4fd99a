package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// SaveEvidence replaces incident id's evidence capture and sets its top
// finding, in one transaction (see incident.Store).
func (s *Store) SaveEvidence(ctx context.Context, id int64, e incident.Evidence) error {
	if err := checkTime("capture time", e.CapturedAt); err != nil || e.CapturedAt.IsZero() {
		return fmt.Errorf("incident store: save evidence of %d: no valid capture time", id)
	}
	for name, raw := range map[string]json.RawMessage{"pack": e.Pack, "findings": e.Findings} {
		if !json.Valid(raw) {
			return fmt.Errorf("incident store: save evidence of %d: the %s is not JSON", id, name)
		}
	}
	partial, err := json.Marshal(append([]string{}, e.Partial...))
	if err != nil {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	r, err := tx.ExecContext(ctx, `UPDATE incidents SET top_finding = $1 WHERE id = $2`, e.TopFinding, id)
	if err != nil {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, incident.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO evidence (incident_id, captured_at, pack, findings, partial) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (incident_id) DO UPDATE SET captured_at = excluded.captured_at, pack = excluded.pack,
		findings = excluded.findings, partial = excluded.partial`,
		id, encodeTime(e.CapturedAt), string(e.Pack), string(e.Findings), string(partial))
	if err != nil {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("incident store: save evidence of %d: %w", id, err)
	}
	return nil
}

// Evidence returns incident id's latest capture (see incident.Store).
func (s *Store) Evidence(ctx context.Context, id int64) (incident.Evidence, error) {
	var e incident.Evidence
	var captured sql.NullString
	var pack, findings, partial string
	err := s.db.QueryRowContext(ctx, `SELECT e.captured_at, e.pack, e.findings, e.partial, i.top_finding
		FROM evidence e JOIN incidents i ON i.id = e.incident_id WHERE e.incident_id = $1`, id).
		Scan(&captured, &pack, &findings, &partial, &e.TopFinding)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("incident store: evidence of %d: %w", id, incident.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("incident store: evidence of %d: %w", id, err)
	}
	if e.CapturedAt, err = decodeTime(captured); err != nil {
		return e, fmt.Errorf("incident store: evidence of %d: %w", id, err)
	}
	e.Pack, e.Findings = json.RawMessage(pack), json.RawMessage(findings)
	if err := json.Unmarshal([]byte(partial), &e.Partial); err != nil {
		return e, fmt.Errorf("incident store: evidence of %d: %w", id, err)
	}
	return e, nil
}
