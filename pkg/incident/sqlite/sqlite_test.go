package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "meshwatch", "incidents.db"), storetest.Config, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) incident.Store { return openTemp(t) })
}

var bg = context.Background()

// t0 has nanoseconds: a store that rounded them would fail the reopen check.
var t0 = time.Date(2026, time.March, 14, 9, 26, 53, 589793238, time.UTC)

// alert is a normalized alert of workload in namespace shop.
func alert(t testing.TB, status incident.Status, starts time.Time, workload string, labels ...string) incident.Alert {
	t.Helper()
	l := map[string]string{"alertname": "KubeContainerWaiting", "namespace": "shop", "deployment": workload, "severity": "warning"}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	a := incident.Alert{Status: status, StartsAt: starts, Labels: l, Source: incident.SourceAlertmanager,
		Annotations: map[string]string{"summary": "Pod container waiting longer than 1 hour"}}
	if status == incident.StatusResolved {
		a.EndsAt = starts.Add(time.Minute)
	}
	n, err := incident.Normalize(a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustIngest(t testing.TB, s *Store, now time.Time, alerts ...incident.Alert) incident.Ingested {
	t.Helper()
	res, err := s.Ingest(bg, now, incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return res
}

// snapshot is everything the store holds, through its API.
func snapshot(t *testing.T, s *Store) map[int64]string {
	t.Helper()
	l, err := s.List(bg, incident.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, inc := range l {
		got, recs, err := s.Get(bg, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(struct {
			I incident.Incident
			R []incident.Record
		}{got, recs})
		if err != nil {
			t.Fatal(err)
		}
		out[inc.ID] = string(b)
	}
	return out
}

// Closing and opening the file again gives back every incident and record
// as they were, and the lifecycle goes on from them (a reopen finds the
// resolved incident, a repeat is still a repeat).
func TestReopeningTheFileKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.db")
	s, err := Open(bg, path, storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	firing := alert(t, incident.StatusFiring, t0, "checkout")
	other := alert(t, incident.StatusFiring, t0, "cart")
	first := mustIngest(t, s, t0.Add(time.Minute), firing, other)
	resolved := firing
	resolved.Status, resolved.EndsAt = incident.StatusResolved, t0.Add(5*time.Minute)
	mustIngest(t, s, t0.Add(5*time.Minute), resolved)
	before := snapshot(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(bg, path, storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after := snapshot(t, s)
	if len(after) != 2 || fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("after reopening the file:\n got %v\nwant %v", after, before)
	}
	if res := mustIngest(t, s, t0.Add(6*time.Minute), other); len(res.Changes) != 0 || res.Ignored != 1 {
		t.Errorf("a repeat after reopening the file: %+v", res)
	}
	again := firing
	again.StartsAt = t0.Add(10 * time.Minute)
	var id int64
	for _, c := range first.Changes {
		if c.Incident.Key.Workload == "checkout" {
			id = c.Incident.ID
		}
	}
	res := mustIngest(t, s, t0.Add(10*time.Minute), again)
	if len(res.Changes) != 1 || !res.Changes[0].Reopened || res.Changes[0].Incident.ID != id {
		t.Errorf("firing again after reopening the file: want incident %d reopened, got %+v", id, res.Changes)
	}
}

func TestOpenCreatesPrivateFilesAndSetsPragmas(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "meshwatch")
	s, err := Open(bg, filepath.Join(dir, "incidents.db"), storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustIngest(t, s, t0, alert(t, incident.StatusFiring, t0, "checkout"))
	if s.Path() != filepath.Join(dir, "incidents.db") {
		t.Errorf("Path() = %q", s.Path())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("directory: %v, %v; want no group write, nothing for others", fi.Mode(), err)
	}
	for _, name := range []string{"incidents.db", "incidents.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want owner only", name, fi.Mode().Perm())
		}
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"} {
		var got string
		if err := s.w.QueryRowContext(bg, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("writer PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	var qo string
	if err := s.r.QueryRowContext(bg, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader query_only = %q (%v)", qo, err)
	}
	if _, err := s.r.ExecContext(bg, "DELETE FROM incidents"); err == nil {
		t.Error("a read connection could write")
	}
	if _, err := Open(bg, filepath.Join(dir, "what?.db"), storetest.Config); err == nil {
		t.Error("a path with '?' opened")
	}
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(bg, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.db")
	for i := 0; i < 3; i++ {
		s, err := Open(bg, path, storetest.Config)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(bg)
		if err != nil || v != len(migrations) {
			t.Errorf("open %d: schema version %d (%v), want %d", i+1, v, err, len(migrations))
		}
		if err := migrate(bg, s.w, migrations); err != nil {
			t.Errorf("migrate again: %v", err)
		}
		if n := countRows(t, s.w, "schema_migrations"); n != len(migrations) {
			t.Errorf("open %d: %d rows in schema_migrations, want %d", i+1, n, len(migrations))
		}
		mustIngest(t, s, t0.Add(time.Duration(i)*time.Minute), alert(t, incident.StatusFiring, t0, "checkout", "pod_ordinal", fmt.Sprint(i)))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A failing migration is rolled back whole: its tables are not there and
// the version stays where the last good one left it.
func TestAFailedMigrationLeavesThePreviousSchema(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	bad := append(slices.Clone(migrations), migration{Version: len(migrations) + 1, Name: "999_broken",
		SQL: "CREATE TABLE half_done (id INTEGER PRIMARY KEY); ALTER TABLE nowhere ADD COLUMN x TEXT;"})
	if err := migrate(bg, s.w, bad); err == nil || !strings.Contains(err.Error(), "999_broken") {
		t.Fatalf("migrate with a broken migration: %v, want an error naming it", err)
	}
	if v, _ := s.SchemaVersion(bg); v != len(migrations) {
		t.Errorf("schema version %d after the failure, want %d", v, len(migrations))
	}
	var n int
	if err := s.w.QueryRowContext(bg, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the broken migration's table exists (%d, %v)", n, err)
	}
}

// A file a newer MeshWatch migrated is refused with an error that says so,
// and left as it was.
func TestANewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.db")
	s, err := Open(bg, path, storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	mustIngest(t, s, t0, alert(t, incident.StatusFiring, t0, "checkout"))
	future := len(migrations) + 1
	if _, err := s.w.ExecContext(bg, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		future, fmt.Sprintf("%03d_from_the_future", future), encodeTime(t0)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(bg, path, storetest.Config)
	if err == nil {
		s.Close()
		t.Fatal("a database at a newer schema version opened")
	}
	for _, want := range []string{"newer", fmt.Sprint(future), "upgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := countRows(t, db, "schema_migrations"); n != future {
		t.Errorf("schema_migrations has %d rows after the refusal, want %d", n, future)
	}
	if n := countRows(t, db, "records"); n != 1 {
		t.Errorf("records: %d after the refusal, want 1", n)
	}
}

// A file whose migration 1 is another build's is refused.
func TestADivergingMigrationIsRefused(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	other := slices.Clone(migrations)
	other[0].Name = "001_something_else"
	if err := migrate(bg, s.w, other); err == nil || !strings.Contains(err.Error(), "different build") {
		t.Errorf("migrate over another build's migration: %v", err)
	}
}

// A write from an incident's older version is refused with ErrConflict,
// and the database's unique index refuses a second open incident for a key
// whoever writes it.
func TestConflictsAreRefusedNotOverwritten(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	a := alert(t, incident.StatusFiring, t0, "checkout")
	res := mustIngest(t, s, t0, a)
	ch := res.Changes[0]

	// Another writer moved the incident on since ch was computed.
	if _, err := s.w.ExecContext(bg, `UPDATE incidents SET version = version + 1, summary = 'changed elsewhere' WHERE id = ?`, ch.Incident.ID); err != nil {
		t.Fatal(err)
	}
	next := incident.Apply(incident.Group{Incident: &ch.Incident, Records: ch.Records}, ch.Incident.Key,
		[]incident.Alert{alert(t, incident.StatusResolved, t0, "checkout")}, t0.Add(time.Minute), storetest.Config.Rules)
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = write(bg, s.prepared.in(bg, tx), ch.Incident.Key, &next.Changes[0])
	_ = tx.Rollback()
	if !errors.Is(err, incident.ErrConflict) {
		t.Fatalf("write from an old version: %v, want ErrConflict", err)
	}
	inc, _, err := s.Get(bg, ch.Incident.ID)
	if err != nil || inc.Summary != "changed elsewhere" || inc.State != incident.StateOpen {
		t.Errorf("the other writer's change was overwritten: %+v, %v", inc, err)
	}

	_, err = s.w.ExecContext(bg, `INSERT INTO incidents (group_key, namespace, workload, alertname, state, severity, title, summary,
		started_at, updated_at, flapping, alerts, firing, version) VALUES (?, 'shop', 'checkout', '', 'open', '', '', '', ?, ?, 0, 0, 0, 1)`,
		ch.Incident.Key.String(), encodeTime(t0), encodeTime(t0))
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("a second open incident for %s: %v, want a UNIQUE violation", ch.Incident.Key, err)
	}
}

// Prune's deletion reaches the records (ON DELETE CASCADE with
// foreign_keys on).
func TestPruneDeletesTheRecords(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	mustIngest(t, s, t0, alert(t, incident.StatusResolved, t0, "checkout"), alert(t, incident.StatusResolved, t0, "checkout", "container", "sidecar"))
	mustIngest(t, s, t0, alert(t, incident.StatusFiring, t0, "cart"))
	if n := countRows(t, s.w, "records"); n != 3 {
		t.Fatalf("records before prune: %d", n)
	}
	if n, err := s.Prune(bg, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune: %d, %v", n, err)
	}
	if n := countRows(t, s.w, "records"); n != 1 {
		t.Errorf("records after pruning the resolved incident: %d, want the open one's 1", n)
	}
}

// List and Get answer while an ingest holds the write lock: readers see the
// last committed state and do not wait for the writer.
func TestReadsDoNotWaitForTheWriter(t *testing.T) {
	s := openTemp(t, WithBusyTimeout(time.Minute))
	defer s.Close()
	res := mustIngest(t, s, t0, alert(t, incident.StatusFiring, t0, "checkout"))

	tx, err := s.w.BeginTx(bg, nil) // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(bg, `UPDATE incidents SET summary = 'uncommitted'`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 5*time.Second) // far below the busy timeout
	defer cancel()
	l, err := s.List(ctx, incident.Filter{})
	if err != nil || len(l) != 1 || l[0].Summary == "uncommitted" {
		t.Fatalf("List during a write: %+v, %v", l, err)
	}
	if _, _, err := s.Get(ctx, res.Changes[0].Incident.ID); err != nil {
		t.Fatalf("Get during a write: %v", err)
	}
}

// Close can be called twice.
func TestCloseTwice(t *testing.T) {
	s := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Two stores on one file (a second process, or Grafana rebuilding the app
// instance before the old one let go) ingesting the same alerts at once:
// the write lock and busy_timeout serialize them, and each key still has
// exactly one open incident holding every alert.
func TestTwoStoresOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(bg, path, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const batches = 30
	// Both send batch n: the same four alerts of two workloads.
	var sends [batches][]incident.Alert
	for n := range sends {
		sends[n] = []incident.Alert{
			alert(t, incident.StatusFiring, t0, "checkout", "n", fmt.Sprint(n)),
			alert(t, incident.StatusFiring, t0, "checkout", "n", fmt.Sprint(n), "container", "istio-proxy"),
			alert(t, incident.StatusFiring, t0, "cart", "n", fmt.Sprint(n)),
			alert(t, incident.StatusFiring, t0, "cart", "n", fmt.Sprint(n), "container", "istio-proxy"),
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*batches)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n, b := range sends {
				if _, err := s.Ingest(bg, t0.Add(time.Duration(n)*time.Second), incident.Batch{Source: incident.SourceAlertmanager, Alerts: b}); err != nil {
					errs <- fmt.Errorf("store %d batch %d: %w", i, n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	l, err := stores[0].List(bg, incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 {
		t.Fatalf("want 2 incidents, got %d: %+v", len(l), l)
	}
	for _, inc := range l {
		if inc.State != incident.StateOpen || inc.Alerts != 2*batches {
			t.Errorf("%s: %s with %d alerts, want open with %d", inc.Key, inc.State, inc.Alerts, 2*batches)
		}
	}
}
