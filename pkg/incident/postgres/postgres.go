// Package postgres is the incident store for Grafana in HA: several
// replicas, each with its own plugin process, share the PostgreSQL the user
// already runs (Grafana's own supported database), through jackc/pgx.
//
// pgx is used through its database/sql adapter (pgx/v5/stdlib): the store
// then has the SQLite driver's shape (sql.Tx, sql.Null*, the same scanning
// and codec), so the two drivers read side by side and differ only where
// the dialect does; pgx caches each connection's prepared statements itself.
//
// Exactly once across replicas:
//   - an ingest takes a transaction-level advisory lock per group key, in
//     key order, before it reads the key's incident: two replicas ingesting
//     the same alert queue on the key, and the second sees the first's
//     incident (a unique index still allows one open incident per key);
//   - an incident is updated only from the version it was read at
//     (incident.ErrConflict otherwise; Ingest retries a conflicting
//     transaction a few times, as a whole);
//   - the audit chain is appended under a transaction-level advisory lock,
//     so it stays one linear chain, and a decision's version is checked
//     under that lock (audit.ConflictError for the loser).
//
// Durability: Ingest returns once PostgreSQL committed (synchronous_commit
// as the server is configured; on by default).
//
// The DSN carries a password: it is never logged, and errors never repeat it.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Option adjusts Open.
type Option func(*options)

type options struct {
	conns   int
	appName string
}

// WithConns sets the most connections the store opens at once. Default 8.
func WithConns(n int) Option { return func(o *options) { o.conns = n } }

// WithApplicationName sets the connections' application_name (what
// pg_stat_activity shows). Default "meshwatch".
func WithApplicationName(name string) Option { return func(o *options) { o.appName = name } }

// Store is the PostgreSQL incident store. It is safe for concurrent use, by
// several processes on one database too.
type Store struct {
	db     *sql.DB
	cfg    incident.Config
	target string // user@host:port/database, for messages; no password

	closeOnce sync.Once
	closeErr  error
}

var _ incident.Store = (*Store)(nil)
var _ incident.AnalysisStore = (*Store)(nil)

// ParseDSN checks a DSN (a postgres:// URL or key=value pairs) and returns
// the pgx configuration and a description without the password. Its errors
// never carry the password.
func ParseDSN(dsn string) (*pgx.ConnConfig, string, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, "", errors.New("no PostgreSQL DSN given")
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("the PostgreSQL DSN does not parse: %w", Redact(err, dsn))
	}
	return cc, Describe(cc), nil
}

// Describe names the database cc connects to, without its password.
func Describe(cc *pgx.ConnConfig) string {
	host := cc.Host
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	return fmt.Sprintf("%s@%s:%d/%s", cc.User, host, cc.Port, cc.Database)
}

// Redact returns err with every occurrence of dsn's password (and of the
// DSN itself) replaced by "xxxxx".
func Redact(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	secrets := []string{dsn}
	if cc, perr := pgconn.ParseConfig(dsn); perr == nil && cc.Password != "" {
		secrets = append(secrets, cc.Password)
	}
	changed := false
	for _, s := range secrets {
		if len(s) >= 3 && strings.Contains(msg, s) {
			msg, changed = strings.ReplaceAll(msg, s, "xxxxx"), true
		}
	}
	if !changed {
		return err
	}
	return redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }

// Is keeps errors.Is working on the sentinel errors callers test for,
// without exposing the wrapped message.
func (r redacted) Is(target error) bool { return errors.Is(r.err, target) }

// Open connects to the database at dsn, brings its schema up to date (under
// an advisory lock, so replicas starting together migrate once) and returns
// the store. A database whose schema is newer than this binary knows is
// refused. cfg is applied on every Ingest.
func Open(ctx context.Context, dsn string, cfg incident.Config, opts ...Option) (*Store, error) {
	o := options{conns: 8, appName: "meshwatch"}
	for _, f := range opts {
		f(&o)
	}
	o.conns = max(o.conns, 2)
	cc, target, err := ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("incident store: %w", err)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = o.appName
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(o.conns)
	db.SetMaxIdleConns(min(o.conns, 2))
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, cfg: cfg, target: target}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("incident store %s: connect: %w", target, Redact(err, dsn))
	}
	if err := migrate(ctx, db, migrations); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("incident store %s: %w", target, Redact(err, dsn))
	}
	return s, nil
}

// Target is user@host:port/database (no password).
func (s *Store) Target() string { return s.target }

// DB is the store's connection pool (for tools: the migration's counts).
func (s *Store) DB() *sql.DB { return s.db }

// SchemaVersion is the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("incident store: schema version: %w", err)
	}
	return v, nil
}

// Close closes the store's connections. Later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Advisory lock keys, pg_advisory_xact_lock(LockSpace, n): the store's
// transaction-level locks, and the active-worker lease's session lock
// (pkg/ha) on LeaseLockID.
const (
	// LockSpace is the first key of every MeshWatch advisory lock ("MW").
	LockSpace int32 = 0x4d57
	// LeaseLockID is the active-worker lease's lock.
	LeaseLockID int32 = 4

	lockMigrate int32 = 1
	lockAudit   int32 = 2
	lockRegroup int32 = 3
)

// lockKeyHashed takes a group key's lock (the one-argument form: a key
// space apart from the two-argument locks above).
const lockKeyHashed = "SELECT pg_advisory_xact_lock(hashtext($1))"

// xactLock takes one of the store's transaction-level advisory locks.
func xactLock(ctx context.Context, tx *sql.Tx, n int32) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, LockSpace, n)
	return err
}

// retryable reports a transaction another one made fail: a conflicting
// version, a unique violation, a serialization failure or a deadlock.
func retryable(err error) bool {
	if errors.Is(err, incident.ErrConflict) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "40001", "40P01":
			return true
		}
	}
	return false
}
