package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/audit/audittest"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// server is one PostgreSQL for the package's tests (started by the first
// test that needs it; initdb takes seconds), each store in a database of
// its own.
var (
	serverOnce sync.Once
	server     *harness.Postgres
	serverStop func()
)

func pg(t *testing.T) *harness.Postgres {
	t.Helper()
	serverOnce.Do(func() {
		// A session outlives the test that started it: stopped in TestMain.
		s, err := harness.NewSession(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Do(func(ht harness.T) { server = harness.StartPostgres(ht, harness.PostgresOptions{}) }); err != nil {
			t.Logf("postgres: %v", err)
		}
		serverStop = func() { _ = s.Close() }
	})
	if server == nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no PostgreSQL (see the log above)")
		}
		t.Skip("no PostgreSQL server binaries: apt-get install postgresql (.ci/run does)")
	}
	return server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if serverStop != nil {
		serverStop()
	}
	os.Exit(code)
}

func openNew(t *testing.T) *Store {
	t.Helper()
	dsn := pg(t).NewDatabase(t)
	s, err := Open(context.Background(), dsn, storetest.Config)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) incident.Store { return openNew(t) })
}

func tamper(t *testing.T, s audit.Store, q string, args ...any) {
	t.Helper()
	db := s.(*Store).db
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `ALTER TABLE audit_log DISABLE TRIGGER USER`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("tamper %q: %v", q, err)
	}
}

func TestAuditConformance(t *testing.T) {
	var mu sync.Mutex
	dsns := map[*Store]string{}
	open := func(t *testing.T, dsn string) *Store {
		s, err := Open(context.Background(), dsn, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		dsns[s] = dsn
		mu.Unlock()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	audittest.Run(t, audittest.Driver{
		Open: func(t *testing.T) audit.Store { return open(t, pg(t).NewDatabase(t)) },
		Reopen: func(t *testing.T, s audit.Store) audit.Store {
			st := s.(*Store)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			dsn := dsns[st]
			mu.Unlock()
			return open(t, dsn)
		},
		Tamper: audittest.Tamper{
			Alter: func(t *testing.T, s audit.Store, seq int64, comment string) {
				tamper(t, s, `UPDATE audit_log SET comment = $1 WHERE seq = $2`, comment, seq)
			},
			Delete: func(t *testing.T, s audit.Store, seq int64) {
				tamper(t, s, `DELETE FROM audit_log WHERE seq = $1`, seq)
			},
			Swap: func(t *testing.T, s audit.Store, a, b int64) {
				tamper(t, s, `UPDATE audit_log SET seq = -1 WHERE seq = $1`, a)
				tamper(t, s, `UPDATE audit_log SET seq = $1 WHERE seq = $2`, a, b)
				tamper(t, s, `UPDATE audit_log SET seq = $1 WHERE seq = -1`, b)
			},
		},
	})
}

// The store refuses to rewrite history itself: the triggers stop an update,
// a delete or a truncate of the log.
func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := openNew(t)
	defer s.Close()
	l := &audit.Log{Store: s}
	if _, err := l.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "1:a:1", Incident: 1}, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET comment = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := s.db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: want the append-only refusal, got %v", q, err)
		}
	}
}

// Two stores on one database: two replicas' plugins.
func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (incident.Store, incident.Store) {
		dsn := pg(t).NewDatabase(t)
		a, err := Open(context.Background(), dsn, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(context.Background(), dsn, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}

// An ingest that opens an incident is announced to every listener (the
// active worker captures at once whichever replica took the delivery); a
// repeat is not.
func TestOnOpenedAnnouncesNewIncidents(t *testing.T) {
	ctx := context.Background()
	dsn := pg(t).NewDatabase(t)
	s, err := Open(ctx, dsn, storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan struct{}, 10)
	stop, err := OnOpened(dsn, func() { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The listener connects in the background: wait until it listens.
	for end := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'meshwatch-listen'
			AND query LIKE 'LISTEN%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the listener never listened")
		}
		time.Sleep(50 * time.Millisecond)
	}
	batch := func(workload string) incident.Batch {
		a, err := incident.Normalize(incident.Alert{Status: incident.StatusFiring, Source: incident.SourceAlertmanager, StartsAt: time.Unix(1700000000, 0),
			Labels: map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "workload": workload}})
		if err != nil {
			t.Fatal(err)
		}
		return incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{a}}
	}
	heard := func(within time.Duration) bool {
		select {
		case <-got:
			return true
		case <-time.After(within):
			return false
		}
	}
	now := time.Unix(1700000100, 0)
	for i, step := range []struct {
		workload string
		want     bool
	}{{"checkout", true}, {"checkout", false}, {"payments", true}} {
		if _, err := s.Ingest(ctx, now.Add(time.Duration(i)*time.Second), batch(step.workload)); err != nil {
			t.Fatal(err)
		}
		wait := 5 * time.Second
		if !step.want {
			wait = time.Second
		}
		if h := heard(wait); h != step.want {
			t.Fatalf("delivery %d (%s): announced %v, want %v", i+1, step.workload, h, step.want)
		}
	}
}
