package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

var tNow = time.Date(2026, 10, 30, 14, 0, 0, 0, time.UTC)

func TestParseAlertsWebhookPayload(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "..", "intake", "testdata", "alertmanager-v4-real.json"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := ParseAlerts(body, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) == 0 || alerts[0].Labels["alertname"] == "" || alerts[0].StartsAt.IsZero() || alerts[0].Fingerprint == "" {
		t.Fatalf("alerts %+v", alerts)
	}
}

func TestParseAlertsList(t *testing.T) {
	list := `[
	  {"labels": {"alertname": "HighErrorRate", "namespace": "books", "deployment": "catalog"}, "startsAt": "2026-10-30T13:40:00Z"},
	  {"labels": {"alertname": "Slow", "namespace": "books", "pod": "catalog-7d9f8b6c5d-x2x4q"}, "annotations": {"summary": "p99"},
	   "startsAt": "2026-10-30T13:42:00Z", "endsAt": "2026-10-30T13:50:00Z", "status": "resolved"},
	  {"labels": {"alertname": "Api", "namespace": "books", "workload": "reviews"}, "startsAt": "2026-10-30T13:45:00Z",
	   "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}}
	]`
	alerts, err := ParseAlerts([]byte(list), tNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 3 || alerts[1].Status != incident.StatusResolved || alerts[0].Status != incident.StatusFiring || alerts[2].Status != incident.StatusFiring {
		t.Fatalf("%+v", alerts)
	}
	inc, others := Subject(alerts)
	if inc.Namespace != "books" || inc.Workload != "catalog" || len(inc.Alerts) != 2 || !inc.EndsAt.IsZero() {
		t.Errorf("subject %+v", inc)
	}
	if len(others) != 1 || len(others["books/reviews"]) != 1 {
		t.Errorf("others %v", others)
	}
	// A single alert object is a list of one.
	one, err := ParseAlerts([]byte(`{"labels": {"alertname": "X", "namespace": "n", "workload": "w"}, "startsAt": "2026-10-30T13:00:00Z"}`), tNow)
	if err != nil || len(one) != 1 {
		t.Fatalf("%v %v", one, err)
	}
	// An incident whose alerts all resolved ends with the last.
	inc, _ = Subject(alerts[1:2])
	if !inc.EndsAt.Equal(time.Date(2026, 10, 30, 13, 50, 0, 0, time.UTC)) {
		t.Errorf("resolved incident ends %s", inc.EndsAt)
	}
}

func TestParseAlertsRefusesWhatItCannotUse(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{``, "empty"},
		{`[]`, "no alerts"},
		{`nope`, "neither"},
		{`[{"labels": {"alertname": "X"}}]`, "no startsAt"},
		{`[{"labels": {"alertname": "X"}, "startsAt": "2026-10-30T15:00:00Z"}]`, "after --at"},
		{`[{"labels": {"alertname": "X"}, "startsAt": "2026-10-30T13:00:00Z", "status": "pending"}]`, "status"},
		{`{"version": "4", "status": "firing", "alerts": []}`, "no alerts"},
		{`{"version": "3", "alerts": [{"labels": {"alertname": "X"}}]}`, "Alertmanager webhook payload"},
	} {
		if _, err := ParseAlerts([]byte(c.body), tNow); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}

func TestInvestigateBadFlags(t *testing.T) {
	dir := t.TempDir()
	alerts := filepath.Join(dir, "alerts.json")
	if err := os.WriteFile(alerts, []byte(`[{"labels": {"alertname": "X", "namespace": "n", "workload": "w"}, "startsAt": "2026-10-30T13:00:00Z"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"investigate", "--alert", alerts}, "--prometheus is required"},
		{[]string{"investigate", "--prometheus", "http://127.0.0.1:9"}, "--alert FILE is required"},
		{[]string{"investigate", "--prometheus", "localhost:9090", "--alert", alerts}, "must be an http(s) URL"},
		{[]string{"investigate", "--prometheus", "http://127.0.0.1:9", "--loki", "loki", "--alert", alerts}, "--loki"},
		{[]string{"investigate", "--prometheus", "http://127.0.0.1:9", "--alert", alerts, "--at", "yesterday"}, "not an RFC3339 time"},
		{[]string{"investigate", "--prometheus", "http://127.0.0.1:9", "--alert", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"investigate", "--prometheus", "http://127.0.0.1:9", "--alert", alerts, "extra"}, "unexpected arguments: extra"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want code 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
