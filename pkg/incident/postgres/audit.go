package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/audit"
)

// The sign-off audit trail lives in the incident database (migration 4), so
// one database holds the incidents and the decisions made on them.

var _ audit.Store = (*Store)(nil)

const auditCols = `seq, at, login, name, role, action, subject, incident, before, after, comment, prev, hash`
const decisionCols = `subject, incident, status, version, body, updated_at, login, name, role`

// Append seals e at the chain's end and stores it, with c moving its
// subject in the same transaction (see audit.Store). The transaction takes
// the chain's advisory lock before it reads the chain's head, so appends
// from every replica queue behind each other and the chain stays linear;
// the subject's version is read under the same lock, so of two decisions
// on one version one wins and the other gets an audit.ConflictError.
func (s *Store) Append(ctx context.Context, e audit.Entry, c *audit.Change) (audit.Entry, error) {
	if err := checkTime("entry time", e.At); err != nil {
		return audit.Entry{}, fmt.Errorf("audit: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("audit: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := xactLock(ctx, tx, lockAudit); err != nil {
		return audit.Entry{}, fmt.Errorf("audit: lock the chain: %w", err)
	}

	var prev *audit.Entry
	var last audit.Entry
	switch err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last.Seq, &last.Hash); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return audit.Entry{}, fmt.Errorf("audit: read the chain's head: %w", err)
	default:
		prev = &last
	}
	e = audit.Seal(prev, e)

	if c != nil {
		cur, err := scanDecision(tx.QueryRowContext(ctx, `SELECT `+decisionCols+` FROM decisions WHERE subject = $1`, e.Subject))
		exists := err == nil
		if err != nil && !errors.Is(err, audit.ErrNotFound) {
			return audit.Entry{}, fmt.Errorf("audit: read %s: %w", e.Subject, err)
		}
		next, err := audit.Apply(cur, exists, e, *c)
		if err != nil {
			return audit.Entry{}, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (`+decisionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (subject) DO UPDATE SET incident = excluded.incident, status = excluded.status,
			version = excluded.version, body = excluded.body, updated_at = excluded.updated_at,
			login = excluded.login, name = excluded.name, role = excluded.role`,
			next.Subject, next.Incident, next.Status, next.Version, rawOrNull(next.Body), encodeTime(next.UpdatedAt),
			next.By.Login, next.By.Name, next.By.Role); err != nil {
			return audit.Entry{}, fmt.Errorf("audit: store %s's decision: %w", e.Subject, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		e.Seq, encodeTime(e.At), e.Actor.Login, e.Actor.Name, e.Actor.Role, string(e.Action), e.Subject, e.Incident,
		rawOrNull(e.Before), rawOrNull(e.After), e.Comment, e.Prev, e.Hash); err != nil {
		return audit.Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return audit.Entry{}, fmt.Errorf("audit: commit: %w", err)
	}
	return e, nil
}

func rawOrNull(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// entriesQuery is the SQL of Entries for q.
func entriesQuery(q audit.Query) (string, []any) {
	var where []string
	var args []any
	if q.Incident != 0 {
		// "incident <> 0" lets the planner use the partial index audit_log_incident.
		args = append(args, q.Incident)
		where = append(where, fmt.Sprintf("incident = $%d AND incident <> 0", len(args)))
	}
	if q.Subject != "" {
		args = append(args, q.Subject)
		where = append(where, fmt.Sprintf("subject = $%d", len(args)))
	}
	query := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return query + " ORDER BY seq", args
}

// Entries returns the entries q selects in chain order (see audit.Store).
func (s *Store) Entries(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	query, args := entriesQuery(q)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: read entries: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at sql.NullString
		var before, after sql.NullString
		var action string
		if err := rows.Scan(&e.Seq, &at, &e.Actor.Login, &e.Actor.Name, &e.Actor.Role, &action, &e.Subject, &e.Incident,
			&before, &after, &e.Comment, &e.Prev, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit: read entries: %w", err)
		}
		if e.At, err = decodeTime(at); err != nil {
			return nil, fmt.Errorf("audit: entry %d: %w", e.Seq, err)
		}
		e.Action = audit.Action(action)
		e.Before, e.After = nullRaw(before), nullRaw(after)
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullRaw(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

func scanDecision(r rowScanner) (audit.State, error) {
	var st audit.State
	var body, at sql.NullString
	err := r.Scan(&st.Subject, &st.Incident, &st.Status, &st.Version, &body, &at, &st.By.Login, &st.By.Name, &st.By.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.State{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.State{}, err
	}
	st.Body = nullRaw(body)
	if st.UpdatedAt, err = decodeTime(at); err != nil {
		return audit.State{}, err
	}
	return st, nil
}

// Subject returns a subject's decision state (see audit.Store).
func (s *Store) Subject(ctx context.Context, subject string) (audit.State, error) {
	st, err := scanDecision(s.db.QueryRowContext(ctx, `SELECT `+decisionCols+` FROM decisions WHERE subject = $1`, subject))
	if err != nil && !errors.Is(err, audit.ErrNotFound) {
		return audit.State{}, fmt.Errorf("audit: read %s: %w", subject, err)
	}
	return st, err
}

// Subjects returns the decision states q selects (see audit.Store).
func (s *Store) Subjects(ctx context.Context, q audit.SubjectQuery) ([]audit.State, error) {
	var where []string
	var args []any
	if q.Incident != 0 {
		args = append(args, q.Incident)
		where = append(where, fmt.Sprintf("incident = $%d", len(args)))
	}
	if len(q.Statuses) > 0 {
		args = append(args, append([]string{}, q.Statuses...))
		where = append(where, fmt.Sprintf("status = ANY($%d)", len(args)))
	}
	query := `SELECT ` + decisionCols + ` FROM decisions`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY incident, subject", args...)
	if err != nil {
		return nil, fmt.Errorf("audit: read decisions: %w", err)
	}
	defer rows.Close()
	var out []audit.State
	for rows.Next() {
		st, err := scanDecision(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: read decisions: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
