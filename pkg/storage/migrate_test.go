package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/postgres"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
)

var t0 = time.Date(2026, time.March, 14, 9, 26, 53, 589793238, time.UTC)

func alert(t testing.TB, workload string, starts time.Time) incident.Alert {
	t.Helper()
	a, err := incident.Normalize(incident.Alert{Status: incident.StatusFiring, Source: incident.SourceAlertmanager, StartsAt: starts,
		Labels:      map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "workload": workload, "severity": "critical"},
		Annotations: map[string]string{"summary": workload + " fails"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A used SQLite file (incidents, a pruned one, a merge, evidence, a
// write-up, decisions) moves into PostgreSQL whole: the counts match, the
// chain verifies with the file's head, every incident reads back the same
// through the other driver, ids go on past the file's, and a second run
// into the same database is refused.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	cfg := incident.Config{Rules: incident.DefaultRules}
	path := filepath.Join(t.TempDir(), "meshwatch.db")
	src, err := sqlite.Open(ctx, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, w := range []string{"gone", "web", "api", "stock"} {
		res, err := src.Ingest(ctx, t0.Add(time.Duration(i)*time.Minute), incident.Batch{Source: incident.SourceAlertmanager,
			Alerts: []incident.Alert{alert(t, w, t0.Add(time.Duration(i)*time.Minute))}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Changes[0].Incident.ID)
	}
	gone := alert(t, "gone", t0)
	gone.Status, gone.EndsAt = incident.StatusResolved, t0.Add(time.Minute)
	if _, err := src.Ingest(ctx, t0.Add(2*time.Minute), incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{gone}}); err != nil {
		t.Fatal(err)
	}
	if n, err := src.Prune(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := src.Regroup(ctx, t0.Add(5*time.Minute), incident.Regrouping{Scope: ids[1:],
		Groups: []incident.MergeGroup{{Root: ids[3], Members: ids[1:3], Reason: "web and api call stock"}}}); err != nil {
		t.Fatal(err)
	}
	if err := src.SaveEvidence(ctx, ids[3], incident.Evidence{CapturedAt: t0.Add(6 * time.Minute), Pack: json.RawMessage(`{"series":[1,2]}`),
		Findings: json.RawMessage(`[{"cause":"saturation"}]`), TopFinding: "shop/stock: saturation", Partial: []string{"tempo"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SaveAnalysis(ctx, incident.Analysis{IncidentID: ids[3], Model: "phi3:mini", Outcome: incident.WriteUpDone,
		Result: json.RawMessage(`{"status":"done"}`), StartedAt: t0.Add(7 * time.Minute), FinishedAt: t0.Add(8 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	log := &audit.Log{Store: src, Now: func() time.Time { return t0.Add(9 * time.Minute) }}
	if _, err := log.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "4:1:root", Incident: ids[3]},
		&audit.Change{Status: "pending", Body: json.RawMessage(`{"text":"restart stock"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Record(ctx, audit.Entry{Actor: audit.Actor{Login: "alice", Role: "Editor"}, Action: audit.Approve, Subject: "4:1:root",
		Incident: ids[3], Comment: "yes"}, &audit.Change{From: 1, Status: "approved"}); err != nil {
		t.Fatal(err)
	}
	want := map[int64]incident.Incident{}
	wantRecs := map[int64][]incident.Record{}
	for _, id := range ids[1:] {
		inc, recs, err := src.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want[id], wantRecs[id] = inc, recs
	}
	wantEv, _ := src.Evidence(ctx, ids[3])
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	dsn := pg.NewDatabase(t)
	var out, errb bytes.Buffer
	if code := Command(ctx, []string{"migrate", "--from", "sqlite:" + path, "--to", "postgres:" + dsn}, &out, &errb); code != 0 {
		t.Fatalf("store migrate: exit %d: %s", code, errb.String())
	}
	t.Logf("\n%s", out.String())
	for _, line := range []string{"incidents             3        3", "records               3        3", "audit_log             2        2",
		"merge_events          1        1", "analyses              1        1", "audit chain: 2 entries verify"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the report lacks %q", line)
		}
	}

	dst, err := postgres.Open(ctx, dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for id, w := range want {
		got, recs, err := dst.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) || !reflect.DeepEqual(recs, wantRecs[id]) {
			t.Errorf("incident %d differs after the migration:\n got %+v\nwant %+v", id, got, w)
		}
	}
	if ev, err := dst.Evidence(ctx, ids[3]); err != nil || !reflect.DeepEqual(ev, wantEv) {
		t.Errorf("evidence: %+v %v", ev, err)
	}
	st, err := dst.Subject(ctx, "4:1:root")
	if err != nil || st.Status != "approved" || st.Version != 2 {
		t.Errorf("decision: %+v %v", st, err)
	}
	// The chain goes on in PostgreSQL from the file's head.
	if _, err := (&audit.Log{Store: dst}).Record(ctx, audit.Entry{Actor: audit.Actor{Login: "bob", Role: "Admin"}, Action: audit.Reject,
		Subject: "4:1:root", Incident: ids[3], Comment: "changed my mind"}, &audit.Change{From: 2, Status: "rejected"}); err != nil {
		t.Fatal(err)
	}
	es, _ := dst.Entries(ctx, audit.Query{})
	if v := audit.Verify(es); !v.OK || v.Entries != 3 {
		t.Fatalf("the chain after one more decision: %+v", v)
	}
	// A new incident's id is past every id the file gave, the pruned one's too.
	res, err := dst.Ingest(ctx, t0.Add(time.Hour), incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{alert(t, "new", t0.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	if id := res.Changes[0].Incident.ID; id <= ids[3] {
		t.Fatalf("the new incident got id %d, not past the file's %d", id, ids[3])
	}

	errb.Reset()
	if code := Command(ctx, []string{"migrate", "--from", "sqlite:" + path, "--to", "postgres:" + dsn}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "not empty") {
		t.Fatalf("a second migration into the same database: exit %d, %s", code, errb.String())
	}
}

// The DSN's password never reaches the output, even when the database
// cannot be reached.
func TestMigrateNeverPrintsThePassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := sqlite.Open(context.Background(), path, incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := Command(ctx, []string{"migrate", "--from=sqlite:" + path, "--to=postgres:postgres://mw:Sup3rS3cret@127.0.0.1:1/mw?connect_timeout=2"}, &out, &errb)
	if code == 0 || strings.Contains(errb.String()+out.String(), "Sup3rS3cret") || errb.Len() == 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
