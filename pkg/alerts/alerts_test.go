package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

const goodAnswer = `{"status":"success","data":{"alerts":[
 {"labels":{"alertname":"HighLatency","namespace":"shop","workload":"api","severity":"warning"},
  "annotations":{"summary":"p99 above 500ms","dashboard_url":"/d/meshwatch-workload?var-namespace=shop&var-workload=api","runbook":"https://runbooks.example/latency"},
  "state":"pending","activeAt":"2026-03-01T10:00:00Z","value":"6.1e-01"},
 {"labels":{"alertname":"ErrorBudgetBurn","namespace":"shop","workload":"checkout","severity":"critical","team":"payments"},
  "annotations":{"summary":"5xx ratio 12%"},
  "state":"firing","activeAt":"2026-03-01T10:05:00.5+01:00","value":"1.2e-01"},
 {"labels":{"alertname":"KeptFiring","severity":"critical"},"annotations":{},
  "state":"inactive","activeAt":"2026-03-01T09:00:00Z","keepFiringSince":"2026-03-01T09:10:00Z","value":"0e+00"}
]}}`

// promClient is a Prometheus client for base, sending "Bearer s3cr3t".
func promClient(t *testing.T, base string) *prometheus.Client {
	t.Helper()
	c, err := prometheus.New(settings.Endpoint{URL: base}.WithAuth("s3cr3t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fetchBody serves body as Prometheus' GET /api/v1/alerts answer and reads
// it through Fetch.
func fetchBody(t *testing.T, body string) ([]Alert, error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/alerts" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return Fetch(context.Background(), promClient(t, srv.URL))
}

func TestFetchGoodAnswer(t *testing.T) {
	got, err := fetchBody(t, goodAnswer)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want the firing and the pending alert (inactive dropped), got %d: %+v", len(got), got)
	}
	f := got[0]
	if f.Name != "ErrorBudgetBurn" || f.State != StateFiring || f.Severity != "critical" || f.Namespace != "shop" ||
		f.Workload != "checkout" || f.Summary != "5xx ratio 12%" || f.DashboardURL != "" || f.Labels["team"] != "payments" {
		t.Errorf("firing alert: %+v", f)
	}
	if want := time.Date(2026, 3, 1, 9, 5, 0, 5e8, time.UTC); !f.ActiveAt.Equal(want) || f.ActiveAt.Location() != time.UTC {
		t.Errorf("activeAt %v, want %v in UTC", f.ActiveAt, want)
	}
	p := got[1]
	if p.Name != "HighLatency" || p.State != StatePending || p.Summary != "p99 above 500ms" ||
		p.DashboardURL != "/d/meshwatch-workload?var-namespace=shop&var-workload=api" || p.Runbook != "https://runbooks.example/latency" {
		t.Errorf("pending alert: %+v", p)
	}
}

func TestFetchEmptyList(t *testing.T) {
	got, err := fetchBody(t, `{"status":"success","data":{"alerts":[]}}`)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("want an empty, non-nil list, got %v %v", got, err)
	}
}

func TestFetchAnswerErrors(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"not JSON":           {`<html>502 Bad Gateway</html>`, "not JSON"},
		"empty body":         {``, "not JSON"},
		"API error":          {`{"status":"error","errorType":"unavailable","error":"rule manager not ready"}`, "answered with an error: unavailable: rule manager not ready"},
		"API error no type":  {`{"status":"error","error":"boom"}`, "answered with an error: boom"},
		"API error no words": {`{"status":"error"}`, "no reason given"},
		"not the API":        {`{"alerts":[]}`, `not a Prometheus API answer (status "")`},
		"no data":            {`{"status":"success"}`, "no data.alerts list"},
		"no alerts key":      {`{"status":"success","data":{"groups":[]}}`, "no data.alerts list"},
		"alerts not a list":  {`{"status":"success","data":{"alerts":{"a":1}}}`, "not a list of alerts"},
		"bad activeAt":       {`{"status":"success","data":{"alerts":[{"state":"firing","activeAt":"yesterday"}]}}`, "not a list of alerts"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := fetchBody(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "Prometheus at http://") {
				t.Fatalf("want an error containing %q, got %v (%v)", c.want, err, got)
			}
		})
	}
}

func TestFetchOrdering(t *testing.T) {
	type a = map[string]any
	mk := func(name, state, sev, at, ns, wl string) a {
		return a{"labels": a{"alertname": name, "severity": sev, "namespace": ns, "workload": wl},
			"annotations": a{}, "state": state, "activeAt": at}
	}
	list := []a{
		mk("P-crit", "pending", "critical", "2026-01-01T00:00:00Z", "", ""),
		mk("F-other", "firing", "page", "2026-01-01T00:00:00Z", "", ""),
		mk("F-info", "firing", "info", "2026-01-01T00:00:00Z", "", ""),
		mk("F-warn-late", "firing", "warning", "2026-01-01T00:05:00Z", "", ""),
		mk("F-warn-early", "firing", "warning", "2026-01-01T00:01:00Z", "", ""),
		mk("F-crit-b", "firing", "CRITICAL", "2026-01-01T00:00:00Z", "b", "x"),
		mk("F-crit-b", "firing", "critical", "2026-01-01T00:00:00Z", "a", "y"),
		mk("F-crit-b", "firing", "critical", "2026-01-01T00:00:00Z", "a", "x"),
		mk("F-crit-a", "firing", "critical", "2026-01-01T00:00:00Z", "z", "z"),
		mk("Gone", "inactive", "critical", "2025-01-01T00:00:00Z", "", ""),
		mk("Weird", "unknown", "critical", "2025-01-01T00:00:00Z", "", ""),
	}
	body, _ := json.Marshal(a{"status": "success", "data": a{"alerts": list}})
	got, err := fetchBody(t, string(body))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, al := range got {
		order = append(order, al.Name+"/"+al.Namespace+"/"+al.Workload)
	}
	want := []string{"F-crit-a/z/z", "F-crit-b/a/x", "F-crit-b/a/y", "F-crit-b/b/x", "F-warn-early//", "F-warn-late//",
		"F-info//", "F-other//", "P-crit//"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("order\n got %v\nwant %v", order, want)
	}
}

func TestFrameFieldsAndRows(t *testing.T) {
	alerts, err := fetchBody(t, goodAnswer)
	if err != nil {
		t.Fatal(err)
	}
	f := Frame(alerts)
	wantNames := []string{"state", "alertname", "namespace", "workload", "severity", "activeAt", "summary", "dashboardUrl", "runbook"}
	if f.Name != "alerts" || len(f.Fields) != len(wantNames) {
		t.Fatalf("frame %q with %d fields", f.Name, len(f.Fields))
	}
	for i, n := range wantNames {
		if f.Fields[i].Name != n {
			t.Errorf("field %d is %q, want %q", i, f.Fields[i].Name, n)
		}
	}
	if f.Fields[5].Type() != data.FieldTypeTime {
		t.Errorf("activeAt is %s, want time", f.Fields[5].Type())
	}
	if rows, _ := f.RowLen(); rows != 2 {
		t.Fatalf("want 2 rows, got %d", rows)
	}
	if f.Fields[0].At(0) != "firing" || f.Fields[1].At(1) != "HighLatency" || f.Fields[7].At(1) != "/d/meshwatch-workload?var-namespace=shop&var-workload=api" ||
		!f.Fields[5].At(0).(time.Time).Equal(alerts[0].ActiveAt) {
		t.Errorf("row values: %v %v %v %v", f.Fields[0].At(0), f.Fields[1].At(1), f.Fields[7].At(1), f.Fields[5].At(0))
	}
	if f.Meta == nil || len(f.Meta.Notices) != 0 {
		t.Errorf("a good frame has meta without notices: %+v", f.Meta)
	}
	raw, err := data.FrameToJSON(f, data.IncludeAll)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"meta":{`) || strings.Contains(string(raw), "notices") {
		t.Errorf("a good frame should reset meta on the wire: %s", raw)
	}
}

func TestFrameEmpty(t *testing.T) {
	f := Frame(nil)
	if len(f.Fields) != 9 {
		t.Fatalf("empty frame has %d fields", len(f.Fields))
	}
	if rows, err := f.RowLen(); err != nil || rows != 0 {
		t.Fatalf("empty frame has %d rows (%v)", rows, err)
	}
	if _, err := data.FrameToJSON(f, data.IncludeAll); err != nil {
		t.Fatal(err)
	}
}

func TestErrorFrame(t *testing.T) {
	const source = "Prometheus at http://prometheus:9090"
	f := ErrorFrame(errors.New("the answer is not JSON"), source)
	if rows, _ := f.RowLen(); rows != 0 || len(f.Fields) != 9 {
		t.Fatalf("error frame: %d fields, %d rows", len(f.Fields), rows)
	}
	if f.Meta == nil || len(f.Meta.Notices) != 1 {
		t.Fatalf("want one notice, got %+v", f.Meta)
	}
	n := f.Meta.Notices[0]
	if n.Severity != data.NoticeSeverityError || n.Text != source+": the answer is not JSON" {
		t.Errorf("notice %+v", n)
	}
	already := errors.New(source + "/api/v1/alerts is unreachable: connection refused")
	if got := ErrorFrame(already, source).Meta.Notices[0].Text; got != already.Error() {
		t.Errorf("an error that names the source is not prefixed again: %q", got)
	}
	raw, _ := data.FrameToJSON(f, data.IncludeAll)
	if !strings.Contains(string(raw), `"notices":[{"severity":"error","text":"Prometheus at http://prometheus:9090: the answer is not JSON"}]`) {
		t.Errorf("wire form: %s", raw)
	}
}

func TestFetch(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/prom/api/v1/alerts":
			_, _ = w.Write([]byte(goodAnswer))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	got, err := Fetch(context.Background(), promClient(t, srv.URL+"/prom"))
	if err != nil || len(got) != 2 || auth != "Bearer s3cr3t" {
		t.Fatalf("Fetch: %v %d alerts, auth %q", err, len(got), auth)
	}

	_, err = Fetch(context.Background(), promClient(t, srv.URL+"/elsewhere"))
	if err == nil || !strings.HasPrefix(err.Error(), "Prometheus at "+srv.URL+"/elsewhere/api/v1/alerts answered HTTP 404") {
		t.Fatalf("404: %v", err)
	}

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>login</html>"))
	}))
	defer html.Close()
	_, err = Fetch(context.Background(), promClient(t, html.URL))
	if err == nil || !strings.HasPrefix(err.Error(), "Prometheus at "+html.URL+"/api/v1/alerts: the answer is not JSON") {
		t.Fatalf("non-JSON: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatal("credentials in the error")
	}
}
