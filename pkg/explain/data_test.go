package explain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

// explain/data re-runs a panel's targets on real servers: a Prometheus
// with an hour of backfilled history (one series steps from 10 to 50
// half-way, another stays at 5) and a Loki with pushed lines. Prometheus
// targets come back as series of at most maxDataPoints points at the
// right values; a Loki metric query as its counts; what cannot run — a
// Loki log query, a query Prometheus refuses, another datasource (never
// run with the plugin's credentials: that would go around Grafana's
// datasource permissions) — as an error of its own target, beside the
// others' data.
func TestDataRerunsTargetsOnRealServers(t *testing.T) {
	end := time.Now().Add(-5 * time.Minute).Truncate(time.Minute)
	start := end.Add(-time.Hour)
	var om strings.Builder
	om.WriteString("# HELP queue_depth Items waiting.\n# TYPE queue_depth gauge\n")
	for ts := start; !ts.After(end); ts = ts.Add(15 * time.Second) {
		a := 10
		if !ts.Before(start.Add(30 * time.Minute)) {
			a = 50
		}
		fmt.Fprintf(&om, "queue_depth{pod=\"a\"} %d %d\nqueue_depth{pod=\"b\"} 5 %d\n", a, ts.Unix(), ts.Unix())
	}
	om.WriteString("# EOF\n")
	path := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(path, []byte(om.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: harness.Backfill(t, path)})
	lk := harness.StartLoki(t)

	// Twelve lines in the range, one a minute from its start.
	var values [][]string
	for i := range 12 {
		ts := time.Now().Add(-40*time.Minute + time.Duration(i)*time.Minute)
		values = append(values, []string{strconv.FormatInt(ts.UnixNano(), 10), fmt.Sprintf("level=error msg=\"timeout %d\"", i)})
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"app": "checkout"}, "values": values}}})
	resp, err := http.Post(lk.URL+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push: %s", resp.Status)
	}

	promEP := settings.Endpoint{URL: prom.URL, TimeoutSeconds: 10}
	lokiEP := settings.Endpoint{URL: lk.URL, TimeoutSeconds: 10}
	pc, err := prometheus.New(promEP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	lc, err := loki.New(lokiEP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lc.Close)
	_, reg := serve(t, "", Options{Sources: Sources{Prometheus: pc, PrometheusEndpoint: promEP, Loki: lc, LokiEndpoint: lokiEP}})

	tr := TimeRange{From: start, To: end}
	req := DataRequest{TimeRange: tr, MaxDataPoints: 60, Queries: []Query{
		{RefID: "A", Datasource: DatasourceRef{Type: DatasourcePrometheus}, Expr: `queue_depth`},
		{RefID: "B", Datasource: DatasourceRef{Type: DatasourcePrometheus, UID: "another-prometheus"}, Expr: `queue_depth`},
		{RefID: "C", Datasource: DatasourceRef{Type: DatasourceLoki}, Expr: `sum(count_over_time({app="checkout"} |= "timeout" [1h]))`},
		{RefID: "D", Datasource: DatasourceRef{Type: DatasourceLoki}, Expr: `{app="checkout"}`},
		{RefID: "E", Datasource: DatasourceRef{Type: DatasourcePrometheus}, Expr: `rate(queue_depth)`},
	}}
	// Loki makes pushed lines queryable within a second or two.
	var out DataResponse
	waitFor(t, "Loki's count", func() bool {
		code, b := post(t, reg, viewer, "/explain/data", mustJSON(t, req))
		if code != http.StatusOK {
			t.Fatalf("explain/data: %d %s", code, b)
		}
		out = DataResponse{}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Frames {
			if f.RefID == "C" {
				return true
			}
		}
		return false
	})

	byName := map[string]DataFrame{}
	for _, f := range out.Frames {
		byName[f.RefID+" "+f.Name] = f
	}
	a, b := byName[`A queue_depth{pod="a"}`], byName[`A queue_depth{pod="b"}`]
	if len(a.Times) == 0 || len(b.Times) == 0 || len(out.Frames) != 3 {
		t.Fatalf("frames %v", keys(byName))
	}
	step := Step(tr, 60)
	if step != time.Minute || len(a.Times) != 61 || a.Labels["pod"] != "a" || a.Labels["__name__"] != "queue_depth" {
		t.Errorf("step %s, %d points, labels %v", step, len(a.Times), a.Labels)
	}
	if a.Times[0] != start.UnixMilli() || a.Times[len(a.Times)-1] != end.UnixMilli() {
		t.Errorf("times %d..%d, want %d..%d", a.Times[0], a.Times[len(a.Times)-1], start.UnixMilli(), end.UnixMilli())
	}
	if v := a.Values; *v[0] != 10 || *v[29] != 10 || *v[31] != 50 || *v[60] != 50 || *b.Values[45] != 5 {
		t.Errorf("pod a %v … %v, pod b %v", *v[0], *v[60], *b.Values[45])
	}
	var c DataFrame
	for _, f := range out.Frames {
		if f.RefID == "C" {
			c = f
		}
	}
	if n := len(c.Values); n == 0 || c.Values[n-1] == nil || *c.Values[n-1] != 12 {
		t.Errorf("Loki's count over the last hour: %+v", c)
	}
	errs := map[string]string{}
	for _, e := range out.Errors {
		errs[e.RefID] = e.Error
	}
	if !strings.Contains(errs["B"], "another-prometheus is not the Prometheus MeshWatch reads") || !strings.Contains(errs["B"], "instead of yours") ||
		!strings.Contains(errs["D"], "a log query") || !strings.Contains(errs["E"], "range vector") || len(errs) != 3 {
		t.Errorf("errors %v", errs)
	}
}

func keys(m map[string]DataFrame) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The step spreads the range over maxDataPoints (default and cap), in
// whole seconds, at least one.
func TestStep(t *testing.T) {
	h := TimeRange{From: t0.Add(-time.Hour), To: t0}
	for _, c := range []struct {
		tr   TimeRange
		n    int
		want time.Duration
	}{{h, 60, time.Minute}, {h, 0, 12 * time.Second}, {h, 7, 515 * time.Second}, {h, 100000, 3 * time.Second},
		{TimeRange{From: t0.Add(-time.Minute), To: t0}, 1000, time.Second}} {
		if got := Step(c.tr, c.n); got != c.want {
			t.Errorf("%s over %d points: %s, want %s", c.tr.To.Sub(c.tr.From), c.n, got, c.want)
		}
	}
}
