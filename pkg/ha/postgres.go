package ha

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshwatch/meshwatch/pkg/incident/postgres"
)

// DefaultEvery is how often a standby tries the lock and the holder checks
// its connection.
const DefaultEvery = 2 * time.Second

// PostgresOptions configures NewPostgres.
type PostgresOptions struct {
	// Replica names this replica (default Replica()).
	Replica string
	// Every: see DefaultEvery. The lease time, after which PostgreSQL ends
	// a silent holder's session and so frees the lock, is 3×Every.
	Every time.Duration
	// OnChange, when set, is called (from the lease's goroutine) each time
	// this replica becomes active or stops being so.
	OnChange func(active bool)
}

// PostgresLease is the advisory-lock lease (see the package documentation).
type PostgresLease struct {
	cc      *pgx.ConnConfig
	replica string
	every   time.Duration
	change  func(bool)

	active atomic.Bool
	mu     sync.Mutex // guards conn
	conn   *pgx.Conn

	stop context.CancelFunc
	done chan struct{}
}

// appPrefix marks the lease's connection in pg_stat_activity; the rest of
// its application_name is the replica's name.
const appPrefix = "meshwatch-worker "

// NewPostgres starts competing for the lease on the database at dsn and
// returns at once; Active turns true once this replica holds the lock
// (usually within a moment when no other replica does). Errors never carry
// the DSN's password.
func NewPostgres(dsn string, o PostgresOptions) (*PostgresLease, error) {
	cc, _, err := postgres.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("active worker lease: %w", err)
	}
	if o.Replica == "" {
		o.Replica = Replica()
	}
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = truncate(appPrefix+o.Replica, 63)
	ctx, cancel := context.WithCancel(context.Background())
	l := &PostgresLease{cc: cc, replica: o.Replica, every: o.Every, change: o.OnChange, stop: cancel, done: make(chan struct{})}
	go l.run(ctx)
	return l, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Active reports whether this replica holds the lock.
func (l *PostgresLease) Active() bool { return l.active.Load() }

// Replica is this replica's name.
func (l *PostgresLease) Replica() string { return l.replica }

// LeaseTime is how long after a holder went silent the lock is free.
func (l *PostgresLease) LeaseTime() time.Duration { return 3 * l.every }

func (l *PostgresLease) run(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		l.round(ctx)
		select {
		case <-ctx.Done():
			l.setActive(false)
			l.mu.Lock()
			if l.conn != nil {
				// Closing the session frees the lock for the next replica.
				cctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = l.conn.Close(cctx)
				cancel()
				l.conn = nil
			}
			l.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

// round connects when needed, then either checks the held lock's
// connection or tries the lock.
func (l *PostgresLease) round(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, l.every)
	defer cancel()
	if l.conn == nil || l.conn.IsClosed() {
		c, err := pgx.ConnectConfig(rctx, l.cc)
		if err != nil {
			l.setActive(false)
			return
		}
		// The lease time: a holder that stops talking (its host gone
		// without closing the socket) has its session, and so the lock,
		// ended by the server. The holder pings every Every, so it is never
		// that idle. (PostgreSQL < 14 has no such setting: there TCP
		// keepalives end the session, later.)
		_, _ = c.Exec(rctx, fmt.Sprintf("SET idle_session_timeout = %d", (3*l.every).Milliseconds()))
		l.conn = c
	}
	var err error
	if l.active.Load() {
		// Still connected means still holding: the lock lives as long as
		// the session.
		_, err = l.conn.Exec(rctx, "SELECT 1")
	} else {
		var got bool
		err = l.conn.QueryRow(rctx, "SELECT pg_try_advisory_lock($1, $2)", postgres.LockSpace, postgres.LeaseLockID).Scan(&got)
		if err == nil && got {
			l.setActive(true)
		}
	}
	if err != nil {
		// A connection that failed may still hold the lock on the server:
		// stop acting at once, drop it, and compete again on a new one.
		l.setActive(false)
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.conn.Close(cctx)
		ccancel()
		l.conn = nil
	}
}

func (l *PostgresLease) setActive(v bool) {
	if l.active.Swap(v) != v && l.change != nil {
		l.change(v)
	}
}

// Status reads the holder from pg_locks (whichever replica it is).
func (l *PostgresLease) Status(ctx context.Context) (Status, error) {
	st := Status{Replica: l.replica, Active: l.Active()}
	if st.Active {
		st.Holder = l.replica
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		return st, errors.New("no connection to PostgreSQL for the active-worker lease")
	}
	var app string
	// The keys are constants, written into the query: pg_locks' columns
	// are oids.
	err := l.conn.QueryRow(ctx, fmt.Sprintf(`SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %d AND l.objid = %d AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		postgres.LockSpace, postgres.LeaseLockID)).Scan(&app)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("read the active worker: %w", err)
	}
	if len(app) > len(appPrefix) && app[:len(appPrefix)] == appPrefix {
		app = app[len(appPrefix):]
	}
	st.Holder = app
	return st, nil
}

// Close gives the lease up and waits until the lock's connection is closed.
func (l *PostgresLease) Close() error {
	l.stop()
	<-l.done
	return nil
}
