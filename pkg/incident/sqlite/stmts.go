package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts are the write path's statements, prepared once on the write
// connection (parsing SQL was a quarter of an ingest's time), and bound to
// each Ingest's transaction with in.
type stmts struct {
	loadOpen, loadResolved, loadRecords, firingOf *sql.Stmt
	insertIncident, updateIncident, upsertRecord  *sql.Stmt
}

func prepareStmts(ctx context.Context, db *sql.DB) (*stmts, error) {
	p := &stmts{}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&p.loadOpen, `SELECT ` + incidentCols + ` FROM incidents WHERE group_key = ? AND state = 'open'`},
		{&p.loadResolved, `SELECT ` + incidentCols + ` FROM incidents WHERE group_key = ? AND state = 'resolved'
			ORDER BY resolved_at DESC, id DESC LIMIT 1`},
		{&p.loadRecords, `SELECT ` + recordCols + ` FROM records WHERE incident_id = ? ORDER BY first_seen, fingerprint`},
		{&p.firingOf, `SELECT i.namespace, i.workload, i.alertname, ` + prefixed("r.", recordCols) + `
			FROM records r JOIN incidents i ON i.id = r.incident_id
			WHERE r.source = ? AND r.status = 'firing' AND r.listed = 1 AND i.state = 'open'
			ORDER BY i.group_key, r.fingerprint`},
		{&p.insertIncident, `INSERT INTO incidents (group_key, namespace, workload, alertname,
			state, severity, title, summary, started_at, resolved_at, updated_at, reopens, flapping, alerts, firing, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`},
		{&p.updateIncident, `UPDATE incidents SET state = ?, severity = ?, title = ?, summary = ?,
			started_at = ?, resolved_at = ?, updated_at = ?, reopens = ?, flapping = ?, alerts = ?, firing = ?, version = ?
			WHERE id = ? AND version = ?`},
		{&p.upsertRecord, `INSERT INTO records (incident_id, ` + recordCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (incident_id, fingerprint) DO UPDATE SET
				status = excluded.status, labels = excluded.labels, annotations = excluded.annotations,
				starts_at = excluded.starts_at, ends_at = excluded.ends_at, generator_url = excluded.generator_url,
				source = excluded.source, last_seen = excluded.last_seen`},
	} {
		st, err := db.PrepareContext(ctx, s.sql)
		if err != nil {
			_ = p.close()
			return nil, fmt.Errorf("prepare %q: %w", s.sql, err)
		}
		*s.dst = st
	}
	return p, nil
}

func (p *stmts) all() []*sql.Stmt {
	return []*sql.Stmt{p.loadOpen, p.loadResolved, p.loadRecords, p.firingOf, p.insertIncident, p.updateIncident, p.upsertRecord}
}

// in returns the statements bound to tx (closed with it).
func (p *stmts) in(ctx context.Context, tx *sql.Tx) *stmts {
	return &stmts{
		loadOpen: tx.StmtContext(ctx, p.loadOpen), loadResolved: tx.StmtContext(ctx, p.loadResolved),
		loadRecords: tx.StmtContext(ctx, p.loadRecords), firingOf: tx.StmtContext(ctx, p.firingOf),
		insertIncident: tx.StmtContext(ctx, p.insertIncident), updateIncident: tx.StmtContext(ctx, p.updateIncident),
		upsertRecord: tx.StmtContext(ctx, p.upsertRecord),
	}
}

func (p *stmts) close() error {
	var errs []error
	for _, s := range p.all() {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
