package harness_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// A Thanos Querier over two replicas of the same backfilled history answers
// as one Prometheus would (deduplicated by the replica label, which it
// removes), and with dedup=false shows both replicas' series.
func TestThanosDeduplicatesReplicas(t *testing.T) {
	t.Parallel()
	end := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE mesh_requests counter\n")
	for i, ts := 0, end.Add(-time.Hour); !ts.After(end); i, ts = i+1, ts.Add(time.Minute) {
		fmt.Fprintf(&om, "mesh_requests_total{service=\"reviews\"} %d %d\n", i*60, ts.Unix())
	}
	om.WriteString("# EOF\n")
	path := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(path, []byte(om.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	th := harness.StartThanos(t, harness.ThanosOptions{Prometheus: harness.PrometheusOptions{Blocks: harness.Backfill(t, path)}})
	if len(th.Replicas) != 2 || len(th.Sidecars) != 2 || th.ReplicaLabel != "replica" {
		t.Fatalf("%+v", th)
	}

	query := func(base, q string, extra url.Values) promResult {
		v := url.Values{"query": {q}, "time": {strconv.FormatInt(end.Add(-30*time.Minute).Unix(), 10)}}
		for k, x := range extra {
			v[k] = x
		}
		var r promResult
		if err := getJSON(base+"/api/v1/query?"+v.Encode(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	one := query(th.Replicas[0].URL, `mesh_requests_total`, nil)
	ha := query(th.URL, `mesh_requests_total`, nil)
	if len(one.Data.Result) != 1 || len(ha.Data.Result) != 1 || ha.Data.Result[0].Value[1] != one.Data.Result[0].Value[1] {
		t.Fatalf("through Thanos %+v, on a replica %+v", ha.Data.Result, one.Data.Result)
	}
	if _, ok := ha.Data.Result[0].Metric["replica"]; ok {
		t.Errorf("the replica label was not removed: %v", ha.Data.Result[0].Metric)
	}
	if got := query(th.URL, `sum(rate(mesh_requests_total[5m]))`, nil).Data.Result[0].Value[1]; got != "1" {
		t.Errorf("rate through Thanos %v, want 1", got)
	}
	both := query(th.URL, `mesh_requests_total`, url.Values{"dedup": {"false"}})
	seen := map[string]bool{}
	for _, s := range both.Data.Result {
		seen[s.Metric["replica"]] = true
	}
	if len(both.Data.Result) != 2 || !seen["a"] || !seen["b"] {
		t.Errorf("dedup=false: %+v", both.Data.Result)
	}
}
