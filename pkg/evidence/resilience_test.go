package evidence

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

func TestClusterService(t *testing.T) {
	for in, want := range map[string]string{
		"outbound|8080||orders.shop.svc.cluster.local":          "shop/orders",
		"outbound|8080|primary|payments.shop.svc.cluster.local": "shop/payments",
		"outbound|9200||search-index.books.svc.homelab.lan":     "books/search-index",
		"inbound|8080||":                         "",
		"outbound|443||api.example.com":          "example/api", // an external host parses; the graph does not know it
		"BlackHoleCluster":                       "",
		"outbound|8080||orders":                  "",
		"outbound|8080||.shop.svc.cluster.local": "",
	} {
		got, ok := clusterService(in)
		if got != want || ok != (want != "") {
			t.Errorf("%q → %q %v, want %q", in, got, ok, want)
		}
	}
}

// A service maps to the workload that served most of it: Flagger's apex
// service to the primary while the canary takes a little.
func TestServiceWorkloads(t *testing.T) {
	w := func(n string) Workload { return Workload{Namespace: "shop", Workload: n} }
	got := ServiceWorkloads([]Edge{
		{From: w("api"), To: w("payments-primary"), Service: "shop/payments", Volume: 90},
		{From: w("api"), To: w("payments"), Service: "shop/payments", Volume: 10},
		{From: w("api"), To: w("orders"), Service: "shop/orders", Volume: 5},
		{From: w("api"), To: Workload{"unknown", "unknown"}, Service: "shop/inventory", Volume: 50},
	})
	if len(got) != 2 || got["shop/payments"] != w("payments-primary") || got["shop/orders"] != w("orders") {
		t.Errorf("%v", got)
	}
}

// clusterProm answers the request graph and, in the merged small query,
// the callers' Envoy cluster stats: cart's proxy overflows towards db's
// service, retries towards a service no request reached, and an inbound
// cluster that is no edge.
type clusterProm struct {
	v1.API
	mu      sync.Mutex // Collect queries concurrently
	queries []string
}

func (f *clusterProm) Rules(context.Context, []string) (v1.RulesResult, error) {
	return v1.RulesResult{}, nil
}

func (f *clusterProm) Query(_ context.Context, q string, _ time.Time, _ ...v1.Option) (model.Value, v1.Warnings, error) {
	if !strings.Contains(q, "increase(istio_requests_total") {
		return model.Vector{}, nil, nil
	}
	edge := func(from, to, svc string) *model.Sample {
		return &model.Sample{Value: 100, Metric: model.Metric{"source_workload_namespace": "ns1", "source_workload": model.LabelValue(from),
			"destination_workload_namespace": "ns1", "destination_workload": model.LabelValue(to),
			"destination_service_namespace": "ns1", "destination_service_name": model.LabelValue(svc)}}
	}
	return model.Vector{edge("web", "cart", "cart"), edge("cart", "db-primary", "db")}, nil, nil
}

var partOf = regexp.MustCompile(`label_replace\((.*?), "` + partLabel + `", "([0-9]+)"`)

func (f *clusterProm) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	series := func(family, cluster string, part string, at func(i int) float64) *model.SampleStream {
		s := &model.SampleStream{Metric: model.Metric{"namespace": "ns1", "pod": "cart-7c9d8b5f4-x2x9z", "cluster_name": model.LabelValue(cluster),
			partLabel: model.LabelValue(part)}}
		for i, t := 0, r.Start; !t.After(r.End); i, t = i+1, t.Add(r.Step) {
			s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(at(i))})
		}
		return s
	}
	var out model.Matrix
	for _, m := range partOf.FindAllStringSubmatch(q, -1) {
		switch {
		case strings.Contains(m[1], "envoy_cluster_upstream_rq_pending_overflow"):
			out = append(out, series("overflow", "outbound|5432||db.ns1.svc.cluster.local", m[2], func(i int) float64 { return float64(i % 4) }),
				series("overflow", "inbound|8080||", m[2], func(int) float64 { return 3 }))
		case strings.Contains(m[1], "envoy_cluster_upstream_rq_retry"):
			out = append(out, series("retry", "outbound|8080||cache.ns1.svc.cluster.local", m[2], func(int) float64 { return 0.5 }))
		case strings.Contains(m[1], "outlier_detection_ejections_active"):
			out = append(out, series("ejections", "outbound|5432||db.ns1.svc.cluster.local", m[2], func(int) float64 { return 0 }))
		}
	}
	return out, nil, nil
}

func TestCollectReadsTheCallersClusterStats(t *testing.T) {
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prom := &clusterProm{}
	inc := Incident{ID: 3, Namespace: "ns1", Workload: "cart", Alerts: []incident.Alert{{Labels: map[string]string{"alertname": "X"},
		StartsAt: end.Add(-20 * time.Minute)}}}
	p := Collect(context.Background(), Sources{Prometheus: prom}, inc, end)
	if p.IsPartial() {
		t.Fatalf("partial %+v", p.Partial)
	}
	for _, q := range prom.queries {
		if strings.Contains(q, "envoy_cluster_upstream_rq_retry") && !strings.Contains(q, "kube_pod_container_status_restarts_total") {
			t.Errorf("the cluster stats cost a round trip of their own:\n%s", q)
		}
	}
	ovf := p.Find(KindEdgeOverflow, "ns1", "cart")
	if len(ovf) != 1 || ovf[0].Peer != "db-primary" || ovf[0].Detail["service"] != "ns1/db" || ovf[0].Unit != UnitRPS || ovf[0].Max != 3 {
		t.Fatalf("overflow: %+v", ovf)
	}
	rtry := p.Find(KindEdgeRetries, "ns1", "cart")
	if len(rtry) != 1 || rtry[0].Peer != "cache" || rtry[0].Detail["service"] != "ns1/cache" {
		t.Errorf("retries to a service the graph does not know: %+v", rtry)
	}
	if ej := p.Find(KindEdgeEjections, "", ""); len(ej) != 0 {
		t.Errorf("ejections zero throughout were kept: %+v", ej)
	}
	if !strings.HasPrefix(ovf[0].ID, "ovf-") || !strings.HasPrefix(rtry[0].ID, "rtry-") {
		t.Errorf("ids %s %s", ovf[0].ID, rtry[0].ID)
	}
	// Series maps the same series to the same ids (the peers come from the
	// pack, not from a request graph it does not query).
	prom.queries = nil
	got, err := Series(context.Background(), prom, p, []string{ovf[0].ID, rtry[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Points) == 0 || len(got[1].Points) == 0 {
		t.Fatalf("series %+v", got)
	}
	if again := Summarize(got[0].Points, p.Window, 0); again.Window != ovf[0].Window {
		t.Errorf("overflow points summarize to %+v, the pack has %+v", again, ovf[0].Summary)
	}
}
