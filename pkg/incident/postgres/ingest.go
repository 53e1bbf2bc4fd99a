package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

const incidentCols = `id, namespace, workload, alertname, state, severity, title, summary,
	started_at, resolved_at, updated_at, reopens, flapping, alerts, firing, version, top_finding`

const recordCols = `fingerprint, status, labels, annotations, starts_at, ends_at,
	generator_url, source, first_seen, last_seen`

// ingestAttempts is how often Ingest runs a batch whose transaction another
// replica's made fail (a version conflict, a deadlock).
const ingestAttempts = 4

// Ingest applies b at time now in one transaction (see incident.Store) and
// returns once it has committed.
func (s *Store) Ingest(ctx context.Context, now time.Time, b incident.Batch) (incident.Ingested, error) {
	if now.IsZero() {
		return incident.Ingested{}, errors.New("incident store: ingest: no time given")
	}
	if err := checkTime("ingest time", now); err != nil {
		return incident.Ingested{}, fmt.Errorf("incident store: ingest: %w", err)
	}
	now = now.UTC()
	if b.Complete && b.Source == "" {
		return incident.Ingested{}, errors.New("incident store: ingest: a complete batch names no source")
	}
	alerts := make([]incident.Alert, len(b.Alerts))
	present := make(map[string]bool, len(b.Alerts))
	for i, a := range b.Alerts {
		if a.Source == "" {
			a.Source = b.Source
		}
		if a.Source != b.Source {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: alert %s comes from %q in a batch from %q", a.Fingerprint, a.Source, b.Source)
		}
		if a.Fingerprint == "" {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: alert %q has no fingerprint (not normalized)", a.Name())
		}
		if err := errors.Join(checkTime("startsAt", a.StartsAt), checkTime("endsAt", a.EndsAt)); err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: alert %s: %w", a.Fingerprint, err)
		}
		alerts[i] = a
		present[a.Fingerprint] = true
	}
	if len(alerts) == 0 && !b.Complete {
		return incident.Ingested{}, nil
	}
	var err error
	for attempt := 1; ; attempt++ {
		var res incident.Ingested
		res, err = s.ingestOnce(ctx, now, b, alerts, present)
		if err == nil || !retryable(err) || attempt == ingestAttempts || ctx.Err() != nil {
			return res, err
		}
	}
}

func (s *Store) ingestOnce(ctx context.Context, now time.Time, b incident.Batch, alerts []incident.Alert, present map[string]bool) (incident.Ingested, error) {
	var res incident.Ingested
	keys, by := incident.Plan(s.cfg.Grouping, alerts)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("incident store: ingest: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if b.Complete {
		firing, err := firingOf(ctx, tx, b.Source)
		if err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: %w", err)
		}
		for _, f := range firing {
			if present[f.rec.Fingerprint] {
				continue
			}
			a := f.rec.Alert
			a.Status, a.EndsAt = incident.StatusResolved, now
			if _, ok := by[f.key]; !ok {
				keys = append(keys, f.key)
			}
			by[f.key] = append(by[f.key], a)
			res.MissingResolved++
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	}

	// Every key's lock first, in key order (two batches sharing keys take
	// them in the same order: no deadlock); each key's incident is read
	// after its lock, so it is the last one committed.
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, lockKeyHashed, k.String()); err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: lock %s: %w", k, err)
		}
	}
	for _, k := range keys {
		g, err := loadGroup(ctx, tx, k)
		if err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: load %s: %w", k, err)
		}
		out := incident.Apply(g, k, by[k], now, s.cfg.Rules)
		res.Ignored += out.Ignored
		for _, ch := range out.Changes {
			if err := write(ctx, tx, k, &ch); err != nil {
				return incident.Ingested{}, fmt.Errorf("incident store: ingest: %s: %w", k, err)
			}
			res.Changes = append(res.Changes, ch)
		}
	}
	if b.Complete && len(present) > 0 {
		fps := make([]string, 0, len(present))
		for fp := range present {
			fps = append(fps, fp)
		}
		sort.Strings(fps)
		if _, err := tx.ExecContext(ctx, `UPDATE records SET listed = true WHERE NOT listed AND source = $1 AND status = 'firing'
			AND fingerprint = ANY($2)`, b.Source, fps); err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: mark listed: %w", err)
		}
	}
	if opensIncident(res.Changes) {
		// Delivered at commit to every replica listening (OnOpened): the
		// active worker captures the new incident's evidence at once, whichever
		// replica took the delivery.
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, OpenedChannel); err != nil {
			return incident.Ingested{}, fmt.Errorf("incident store: ingest: notify: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return incident.Ingested{}, fmt.Errorf("incident store: ingest: commit: %w", err)
	}
	return res, nil
}

// OpenedChannel is the notification channel on which the store says that
// an ingest made or reopened an incident.
const OpenedChannel = "meshwatch_incident_opened"

func opensIncident(changes []incident.Change) bool {
	for _, c := range changes {
		if (c.Created || c.Reopened) && c.Incident.State == incident.StateOpen {
			return true
		}
	}
	return false
}

type firingRecord struct {
	key incident.Key
	rec incident.Record
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// firingOf returns the firing, listed records of source in open incidents.
func firingOf(ctx context.Context, q queryer, source string) ([]firingRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.namespace, i.workload, i.alertname, `+prefixed("r.", recordCols)+`
		FROM records r JOIN incidents i ON i.id = r.incident_id
		WHERE r.source = $1 AND r.status = 'firing' AND r.listed AND i.state = 'open'
		ORDER BY i.group_key, r.fingerprint`, source)
	if err != nil {
		return nil, fmt.Errorf("firing alerts of %s: %w", source, err)
	}
	defer rows.Close()
	var out []firingRecord
	for rows.Next() {
		var f firingRecord
		var rs recordScan
		dest := append([]any{&f.key.Namespace, &f.key.Workload, &f.key.Alertname}, rs.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("firing alerts of %s: %w", source, err)
		}
		if f.rec, err = rs.record(); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// loadGroup reads key k's open incident, else the one that resolved last,
// with all its records.
func loadGroup(ctx context.Context, q queryer, k incident.Key) (incident.Group, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE group_key = $1 AND state = 'open'`, k.String()))
	if errors.Is(err, sql.ErrNoRows) {
		inc, err = scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE group_key = $1 AND state = 'resolved'
			ORDER BY resolved_at DESC, id DESC LIMIT 1`, k.String()))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Group{}, nil
	}
	if err != nil {
		return incident.Group{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT `+recordCols+` FROM records WHERE incident_id = $1 ORDER BY first_seen, fingerprint`, inc.ID)
	if err != nil {
		return incident.Group{}, fmt.Errorf("records of incident %d: %w", inc.ID, err)
	}
	recs, err := scanRecords(rows, inc.ID)
	if err != nil {
		return incident.Group{}, err
	}
	return incident.Group{Incident: &inc, Records: recs}, nil
}

func scanRecords(rows *sql.Rows, id int64) ([]incident.Record, error) {
	defer rows.Close()
	var out []incident.Record
	for rows.Next() {
		var rs recordScan
		if err := rows.Scan(rs.dest()...); err != nil {
			return nil, fmt.Errorf("records of incident %d: %w", id, err)
		}
		r, err := rs.record()
		if err != nil {
			return nil, fmt.Errorf("records of incident %d: %w", id, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// write stores one change: a new incident is inserted and ch gets its id;
// a changed one is updated only from the version Apply started from (else
// incident.ErrConflict); its new or changed records are upserted.
func write(ctx context.Context, tx *sql.Tx, k incident.Key, ch *incident.Change) error {
	inc := &ch.Incident
	reopens, err := encodeTimes(inc.Reopens)
	if err != nil {
		return err
	}
	if inc.ID == 0 {
		if !ch.Created {
			return errors.New("a change to an incident without an id")
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO incidents (group_key, namespace, workload, alertname,
			state, severity, title, summary, started_at, resolved_at, updated_at, reopens, flapping, alerts, firing, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
			k.String(), k.Namespace, k.Workload, k.Alertname, string(inc.State), inc.Severity, inc.Title, inc.Summary,
			encodeTime(inc.StartedAt), encodeTime(inc.ResolvedAt), encodeTime(inc.UpdatedAt),
			reopens, inc.Flapping, inc.Alerts, inc.Firing, inc.Version).Scan(&inc.ID)
		if err != nil {
			return fmt.Errorf("insert incident: %w", err)
		}
	} else {
		r, err := tx.ExecContext(ctx, `UPDATE incidents SET state = $1, severity = $2, title = $3, summary = $4,
			started_at = $5, resolved_at = $6, updated_at = $7, reopens = $8, flapping = $9, alerts = $10, firing = $11, version = $12
			WHERE id = $13 AND version = $14`,
			string(inc.State), inc.Severity, inc.Title, inc.Summary,
			encodeTime(inc.StartedAt), encodeTime(inc.ResolvedAt), encodeTime(inc.UpdatedAt),
			reopens, inc.Flapping, inc.Alerts, inc.Firing, inc.Version, inc.ID, inc.Version-1)
		if err != nil {
			return fmt.Errorf("update incident %d: %w", inc.ID, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("update incident %d: %w", inc.ID, err)
		} else if n != 1 {
			return fmt.Errorf("update incident %d from version %d: %w", inc.ID, inc.Version-1, incident.ErrConflict)
		}
	}
	for _, r := range ch.Records {
		labels, err := encodeMap(r.Labels)
		if err != nil {
			return fmt.Errorf("alert %s: labels: %w", r.Fingerprint, err)
		}
		annotations, err := encodeMap(r.Annotations)
		if err != nil {
			return fmt.Errorf("alert %s: annotations: %w", r.Fingerprint, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO records (incident_id, `+recordCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (incident_id, fingerprint) DO UPDATE SET
				status = excluded.status, labels = excluded.labels, annotations = excluded.annotations,
				starts_at = excluded.starts_at, ends_at = excluded.ends_at, generator_url = excluded.generator_url,
				source = excluded.source, last_seen = excluded.last_seen`,
			inc.ID, r.Fingerprint, string(r.Status), labels, annotations,
			encodeTime(r.StartsAt), encodeTime(r.EndsAt), r.GeneratorURL, r.Source,
			encodeTime(r.FirstSeen), encodeTime(r.LastSeen)); err != nil {
			return fmt.Errorf("write alert %s: %w", r.Fingerprint, err)
		}
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanIncident(row rowScanner) (incident.Incident, error) {
	var inc incident.Incident
	var state, reopens string
	var started, resolved, updated sql.NullString
	err := row.Scan(&inc.ID, &inc.Key.Namespace, &inc.Key.Workload, &inc.Key.Alertname, &state, &inc.Severity,
		&inc.Title, &inc.Summary, &started, &resolved, &updated, &reopens, &inc.Flapping, &inc.Alerts, &inc.Firing, &inc.Version,
		&inc.TopFinding)
	if err != nil {
		return inc, err
	}
	inc.State = incident.State(state)
	var errs [4]error
	inc.StartedAt, errs[0] = decodeTime(started)
	inc.ResolvedAt, errs[1] = decodeTime(resolved)
	inc.UpdatedAt, errs[2] = decodeTime(updated)
	inc.Reopens, errs[3] = decodeTimes(reopens)
	if err := errors.Join(errs[:]...); err != nil {
		return inc, fmt.Errorf("incident %d: %w", inc.ID, err)
	}
	return inc, nil
}

type recordScan struct {
	fp, status, labels, annotations, url, source string
	starts, ends, first, last                    sql.NullString
}

func (s *recordScan) dest() []any {
	return []any{&s.fp, &s.status, &s.labels, &s.annotations, &s.starts, &s.ends, &s.url, &s.source, &s.first, &s.last}
}

func (s *recordScan) record() (incident.Record, error) {
	r := incident.Record{Alert: incident.Alert{
		Fingerprint: s.fp, Status: incident.Status(s.status), GeneratorURL: s.url, Source: s.source,
	}}
	var errs [6]error
	r.Labels, errs[0] = decodeMap(s.labels)
	r.Annotations, errs[1] = decodeMap(s.annotations)
	r.StartsAt, errs[2] = decodeTime(s.starts)
	r.EndsAt, errs[3] = decodeTime(s.ends)
	r.FirstSeen, errs[4] = decodeTime(s.first)
	r.LastSeen, errs[5] = decodeTime(s.last)
	if err := errors.Join(errs[:]...); err != nil {
		return r, fmt.Errorf("alert %s: %w", s.fp, err)
	}
	return r, nil
}

// prefixed qualifies a column list with a table alias.
func prefixed(p, cols string) string {
	var out []byte
	start := true
	for i := 0; i < len(cols); i++ {
		c := cols[i]
		if start && c != ' ' && c != '\t' && c != '\n' {
			out = append(out, p...)
			start = false
		}
		if c == ',' {
			start = true
		}
		out = append(out, c)
	}
	return string(out)
}
