package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

var _ incident.AnalysisStore = (*Store)(nil)

// SaveAnalysis stores a new analysis of a.IncidentID (see
// incident.AnalysisStore).
func (s *Store) SaveAnalysis(ctx context.Context, a incident.Analysis) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("incident store: save analysis of %d: %w", a.IncidentID, err)
	}
	if !json.Valid(a.Result) {
		return fail(errors.New("the result is not JSON"))
	}
	switch a.Outcome {
	case incident.WriteUpDone, incident.WriteUpFailed:
	default:
		return fail(fmt.Errorf("outcome %q is neither %q nor %q", a.Outcome, incident.WriteUpDone, incident.WriteUpFailed))
	}
	for what, t := range map[string]time.Time{"evidence time": a.EvidenceAt, "start": a.StartedAt, "finish": a.FinishedAt} {
		if err := checkTime(what, t); err != nil {
			return fail(err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = tx.Rollback() }()
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE id = $1`, a.IncidentID).Scan(&exists); err != nil {
		return fail(err)
	}
	if exists == 0 {
		return fail(incident.ErrNotFound)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO analyses (incident_id, evidence_at, started_at, finished_at, model, basis, outcome, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, a.IncidentID, encodeTime(a.EvidenceAt), encodeTime(a.StartedAt), encodeTime(a.FinishedAt),
		a.Model, a.Basis, a.Outcome, string(a.Result)).Scan(&id); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return id, nil
}

// LatestAnalysis returns incident id's newest analysis (see
// incident.AnalysisStore).
func (s *Store) LatestAnalysis(ctx context.Context, id int64) (incident.Analysis, error) {
	a := incident.Analysis{IncidentID: id}
	var evidenceAt, started, finished sql.NullString
	var result string
	err := s.db.QueryRowContext(ctx, `SELECT id, evidence_at, started_at, finished_at, model, basis, outcome, result
		FROM analyses WHERE incident_id = $1 ORDER BY id DESC LIMIT 1`, id).
		Scan(&a.ID, &evidenceAt, &started, &finished, &a.Model, &a.Basis, &a.Outcome, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("incident store: analysis of %d: %w", id, incident.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("incident store: analysis of %d: %w", id, err)
	}
	for _, f := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&a.EvidenceAt, evidenceAt}, {&a.StartedAt, started}, {&a.FinishedAt, finished}} {
		if *f.dst, err = decodeTime(f.src); err != nil {
			return a, fmt.Errorf("incident store: analysis of %d: %w", id, err)
		}
	}
	a.Result = json.RawMessage(result)
	return a, nil
}
