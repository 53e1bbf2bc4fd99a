// Package sqlite is the default incident store: one SQLite file under
// Grafana's data directory, through modernc.org/sqlite (pure Go, so every
// plugin platform cross-compiles with CGO off).
//
// Durability: WAL journal with synchronous=FULL. Ingest returns only after
// its transaction committed, and with FULL the commit has fsynced the WAL, so
// an acknowledged batch survives a kill -9 of the plugin and also a power
// loss or kernel crash of the node (synchronous=NORMAL would survive the
// kill -9 only). A homelab's single node does lose power, and at tens of
// alerts a day the fsync per batch costs nothing a user notices;
// WithSynchronous(SyncNormal) trades that away for throughput.
//
// Connections: one writer and a pool of readers. Every write runs on the
// single write connection in a BEGIN IMMEDIATE transaction, so writes in this
// process queue in database/sql and a writer in another process (a second
// store on the same file while Grafana rebuilds the app instance) waits on
// busy_timeout instead of failing half-way. Reads (List, Get,
// SchemaVersion) run on separate query-only connections: under WAL they read
// the last committed snapshot and never wait for an ingest in progress.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Synchronous is SQLite's synchronous setting for the write connection.
type Synchronous string

const (
	// SyncFull fsyncs the WAL at every commit: a committed batch survives a
	// process kill and a power loss. The default.
	SyncFull Synchronous = "FULL"
	// SyncNormal fsyncs only at checkpoints: a committed batch survives a
	// process kill, but the last ones may be lost on a power loss.
	SyncNormal Synchronous = "NORMAL"
)

// Option adjusts Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
	sync        Synchronous
}

// WithBusyTimeout sets how long a statement waits for a lock another
// connection (another process) holds before it fails. Default 10s.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReaders sets the most read connections open at once. Default 4.
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// WithSynchronous sets the write connection's synchronous mode (SyncFull by
// default; see the package documentation).
func WithSynchronous(s Synchronous) Option { return func(o *options) { o.sync = s } }

// Store is the SQLite incident store. It is safe for concurrent use.
type Store struct {
	path string
	cfg  incident.Config
	w    *sql.DB // the one write connection
	r    *sql.DB // query-only connections

	prepared *stmts // on w

	closeOnce sync.Once
	closeErr  error
}

var _ incident.Store = (*Store)(nil)

// Open opens (creating it, and its directory, when missing) the store at
// path, brings its schema up to date and returns it. A file whose schema is
// newer than this binary knows is refused. cfg is applied on every Ingest.
func Open(ctx context.Context, path string, cfg incident.Config, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 10 * time.Second, readers: 4, sync: SyncFull}
	for _, f := range opts {
		f(&o)
	}
	switch o.sync {
	case SyncFull, SyncNormal:
	default:
		return nil, fmt.Errorf("incident store: synchronous %q is neither %s nor %s", o.sync, SyncFull, SyncNormal)
	}
	if o.readers < 1 {
		o.readers = 1
	}
	if path == "" {
		return nil, errors.New("incident store: no path given")
	}
	// The driver reads everything after a '?' as connection parameters.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("incident store: the path %q contains '?', which SQLite's driver cannot open", path)
	}
	path = filepath.Clean(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("incident store: create the directory of %s: %w", path, err)
	}
	// Create the file with owner-only permissions before SQLite does (it
	// would use 0644); SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}

	busy := fmt.Sprint(o.busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", path+"?_txlock=immediate"+
		"&_pragma=busy_timeout("+busy+")"+
		"&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous("+string(o.sync)+")"+
		"&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)

	s := &Store{path: path, cfg: cfg, w: w}
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		_ = w.Close()
		if err == nil {
			err = fmt.Errorf("journal mode is %q, not wal (is the file on a file system without shared memory?)", mode)
		}
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("incident store %s: %w", path, err)
	}
	if s.prepared, err = prepareStmts(ctx, w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("incident store %s: %w", path, err)
	}

	s.r, err = sql.Open("sqlite", path+
		"?_pragma=busy_timeout("+busy+")"+
		"&_pragma=foreign_keys(1)"+
		"&_pragma=query_only(1)")
	if err != nil {
		_ = s.prepared.close()
		_ = w.Close()
		return nil, fmt.Errorf("incident store: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(o.readers)
	s.r.SetMaxIdleConns(min(o.readers, 2))
	s.r.SetConnMaxIdleTime(5 * time.Minute)
	return s, nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// SchemaVersion is the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("incident store: schema version: %w", err)
	}
	return v, nil
}

// Close closes the store's connections; SQLite checkpoints the WAL into the
// database file as the last one closes. Later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.r.Close(), s.prepared.close(), s.w.Close())
	})
	return s.closeErr
}
