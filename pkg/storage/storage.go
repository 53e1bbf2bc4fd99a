// Package storage opens the incident database the settings choose: the
// embedded SQLite file (one Grafana) or the PostgreSQL shared by Grafana's
// replicas, and the active-worker lease that goes with it. The incident
// capability and the sign-off capability open it through here, so they use
// one database whatever the kind.
package storage

import (
	"context"
	"fmt"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/ha"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/postgres"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// Backend is everything MeshWatch keeps in its database: incidents, their
// write-ups and the sign-off audit trail. Both drivers implement it.
type Backend interface {
	incident.Store
	incident.AnalysisStore
	audit.Store
}

var (
	_ Backend = (*sqlite.Store)(nil)
	_ Backend = (*postgres.Store)(nil)
)

// Key names the database s points at, for sharing one open store per
// process and for the health check's target. It never carries the
// PostgreSQL password: "postgres://user@host:port/database".
func Key(s settings.Storage) string {
	if s.Kind != settings.StorePostgres {
		return s.Path
	}
	_, target, err := postgres.ParseDSN(s.DSN())
	if err != nil {
		return "postgres (the DSN does not parse)"
	}
	return "postgres://" + target
}

// Option adjusts Open.
type Option struct {
	// Conns bounds the store's connections (SQLite: readers; PostgreSQL:
	// the pool). Zero: the driver's default.
	Conns int
}

// Open opens the database s names with cfg (see sqlite.Open and
// postgres.Open).
func Open(ctx context.Context, s settings.Storage, cfg incident.Config, o Option) (Backend, error) {
	switch s.Kind {
	case settings.StorePostgres:
		var opts []postgres.Option
		if o.Conns > 0 {
			opts = append(opts, postgres.WithConns(o.Conns))
		}
		return postgres.Open(ctx, s.DSN(), cfg, append(opts, postgres.WithApplicationName("meshwatch "+ha.Replica()))...)
	case settings.StoreSQLite, "":
		var opts []sqlite.Option
		if o.Conns > 0 {
			opts = append(opts, sqlite.WithReaders(o.Conns))
		}
		return sqlite.Open(ctx, s.Path, cfg, opts...)
	default:
		return nil, fmt.Errorf("storage kind %q is neither %q nor %q", s.Kind, settings.StoreSQLite, settings.StorePostgres)
	}
}

// Lease returns this process's active-worker lease for the database s
// names (shared by every app instance on it; release gives this caller's
// hold up): always active on SQLite, the advisory-lock lease on PostgreSQL.
func Lease(s settings.Storage) (ha.Lease, func(), error) {
	if s.Kind != settings.StorePostgres {
		return ha.Always(ha.Replica()), func() {}, nil
	}
	return ha.Acquire(Key(s), func() (ha.Lease, error) {
		return ha.NewPostgres(s.DSN(), ha.PostgresOptions{})
	})
}

// OnOpened calls fn whenever any replica's ingest opens an incident (see
// postgres.OnOpened) and returns the function that stops it; nil on SQLite,
// where this process takes every delivery itself.
func OnOpened(s settings.Storage, fn func()) func() {
	if s.Kind != settings.StorePostgres {
		return nil
	}
	stop, err := postgres.OnOpened(s.DSN(), fn)
	if err != nil {
		return nil
	}
	return stop
}
