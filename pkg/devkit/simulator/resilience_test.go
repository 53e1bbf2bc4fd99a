package simulator

import (
	"slices"
	"strings"
	"testing"
)

// sum of the last values of series.
func sumLast(rs []recorded) float64 {
	var s float64
	for _, r := range rs {
		s += r.last()
	}
	return s
}

var clusterFamilies = []string{
	"envoy_cluster_upstream_rq_total", "envoy_cluster_upstream_rq_retry", "envoy_cluster_upstream_rq_retry_success",
	"envoy_cluster_upstream_rq_retry_overflow", "envoy_cluster_upstream_rq_timeout", "envoy_cluster_upstream_rq_pending_overflow",
	"envoy_cluster_outlier_detection_ejections_active", "envoy_cluster_outlier_detection_ejections_enforced_total",
	"envoy_cluster_circuit_breakers_default_rq_open", "envoy_cluster_circuit_breakers_default_cx_open",
}

// Every sidecar exports its outbound clusters' stats while healthy, with
// no retry, overflow, ejection or open breaker: the panels have data and
// the rules stay silent.
func TestHealthyClusterStatsAreQuiet(t *testing.T) {
	for _, name := range []string{"healthy", "books-healthy"} {
		e := run(t, name)
		for _, f := range clusterFamilies {
			rs := series(t, e, f, nil)
			if len(rs) < 4 {
				t.Errorf("%s: %s has %d series, want one per client and cluster", name, f, len(rs))
			}
			for _, r := range rs {
				if !strings.HasPrefix(r.labels["cluster_name"], "outbound|") || !strings.HasSuffix(r.labels["cluster_name"], ".svc.cluster.local") ||
					r.labels["pod"] == "" || r.labels["namespace"] == "" || r.labels["job"] != "kubernetes-pods" {
					t.Errorf("%s: %s labels %v", name, f, r.labels)
				}
				if f != "envoy_cluster_upstream_rq_total" && slices.Max(r.vals) != 0 {
					t.Errorf("%s: %s %v reaches %v", name, f, r.labels, slices.Max(r.vals))
				}
			}
		}
		if n := sumLast(series(t, e, "envoy_cluster_upstream_rq_total", nil)); n < 1000 {
			t.Errorf("%s: only %v upstream requests", name, n)
		}
	}
	// The shop's api calls inventory through its own cluster.
	rs := series(t, run(t, "healthy"), "envoy_cluster_upstream_rq_total", map[string]string{"namespace": "shop", "cluster_name": "outbound|8080||inventory.shop.svc.cluster.local"})
	if len(rs) != 1 || !strings.HasPrefix(rs[0].labels["pod"], "api-") {
		t.Errorf("api's inventory cluster: %v", rs)
	}
}

// The circuit breaker opens: catalog's own proxy answers 503 UO (source
// reporter only, destination unknown, the service named), fast, and the
// calls never reach search-index; Envoy counts them as pending overflows.
func TestCircuitBreakerOpensUnderBurst(t *testing.T) {
	e := run(t, "circuit-breaker-open")
	uo := series(t, e, "istio_requests_total", map[string]string{"response_flags": "UO"})
	if len(uo) == 0 {
		t.Fatal("no UO requests")
	}
	var n float64
	for _, r := range uo {
		l := r.labels
		if l["reporter"] != "source" || l["source_workload"] != "catalog" || l["destination_workload"] != "unknown" ||
			l["destination_service_name"] != "search-index" || l["response_code"] != "503" {
			t.Errorf("UO series %v", l)
		}
		n += r.last()
	}
	dur := series(t, e, "istio_request_duration_milliseconds", map[string]string{"response_flags": "UO"})
	if len(dur) == 0 {
		t.Fatal("no UO durations")
	}
	row := dur[0].row(len(dur[0].ticks) - 1)
	if count, sum := row[len(row)-2], row[len(row)-1]; count == 0 || sum/count > 1 {
		t.Errorf("UO mean duration %.2f ms over %v, want fast (< 1 ms)", sum/count, count)
	}
	of := sumLast(series(t, e, "envoy_cluster_upstream_rq_pending_overflow", map[string]string{"cluster_name": "outbound|9200||search-index.books.svc.cluster.local"}))
	t.Logf("%v calls overflowed, search-index served %v", n, sumLast(series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "search-index"})))
	if of != n {
		t.Errorf("pending overflow %v, UO requests %v: want equal", of, n)
	}
	var open bool
	for _, r := range series(t, e, "envoy_cluster_circuit_breakers_default_rq_open", map[string]string{"cluster_name": "outbound|9200||search-index.books.svc.cluster.local"}) {
		open = open || slices.Max(r.vals) == 1 && r.last() == 0 // opened, and closed after the burst
	}
	if !open {
		t.Error("search-index's breaker never opened (and closed)")
	}
	// Little destination-side trace: search-index served what was admitted
	// only, fewer than catalog sent.
	sent := sumLast(series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": "catalog", "destination_service_name": "search-index"}))
	served := sumLast(series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "search-index"}))
	if served+n > sent*1.001 || served+n < sent*0.999 {
		t.Errorf("catalog sent %v, search-index served %v, %v overflowed", sent, served, n)
	}
	if ej := sumLast(series(t, e, "envoy_cluster_outlier_detection_ejections_enforced_total", nil)); ej != 0 {
		t.Errorf("%v ejections in a burst", ej)
	}
}

// Retries multiply the load: orders serves more requests than api's first
// attempts, Envoy counts the retries, and none of it is a timeout.
func TestRetryStormMultipliesLoad(t *testing.T) {
	e := run(t, "retry-storm")
	cl := map[string]string{"namespace": "shop", "cluster_name": "outbound|8080||orders.shop.svc.cluster.local"}
	total := series(t, e, "envoy_cluster_upstream_rq_total", cl)
	retry := series(t, e, "envoy_cluster_upstream_rq_retry", cl)
	if len(total) != 1 || len(retry) != 1 {
		t.Fatalf("api's orders cluster: %d total, %d retry series", len(total), len(retry))
	}
	first := windowIncrease(e, total, w5m)
	retries := windowIncrease(e, retry, w5m)
	best := 0.0
	for tick, tot := range first {
		if f := tot - retries[tick]; f >= 20 {
			best = max(best, retries[tick]/f)
		}
	}
	if best < 0.5 {
		t.Errorf("retries reach %.2f of first attempts, want a storm (>= 0.5)", best)
	}
	// The destination's own count of requests exceeds the source's first
	// attempts (one per call).
	src := windowIncrease(e, series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": "api", "destination_service_name": "orders"}), w5m)
	dst := windowIncrease(e, series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "orders"}), w5m)
	amp := 0.0
	for tick, s := range src {
		if s >= 20 {
			amp = max(amp, dst[tick]/s)
		}
	}
	t.Logf("retries up to %.2f of first attempts; orders serves up to %.2f× api's calls", best, amp)
	if amp < 1.5 {
		t.Errorf("orders serves at most %.2f× api's calls, want >= 1.5×", amp)
	}
	if n := sumLast(series(t, e, "istio_requests_total", map[string]string{"response_flags": "UT"})); n != 0 {
		t.Errorf("%v timeouts in a retry storm", n)
	}
	if n := sumLast(series(t, e, "istio_requests_total", map[string]string{"source_workload": "api", "destination_service_name": "orders", "response_flags": "URX"})); n == 0 {
		t.Error("no retries exhausted (URX)")
	}
	if n := sumLast(series(t, e, "envoy_cluster_upstream_rq_retry_success", cl)); n == 0 {
		t.Error("no retry ever succeeded")
	}
}

// Outlier detection ejects the bad cart pod: its callers get 503 UH while
// it is ejected, it is re-admitted, and it stays once it recovers.
func TestOutlierEjectionAndRecovery(t *testing.T) {
	e := run(t, "outlier-ejection")
	ej := series(t, e, "envoy_cluster_outlier_detection_ejections_enforced_total", map[string]string{"cluster_name": "outbound|8080||cart.books.svc.cluster.local"})
	var enforced float64
	for _, r := range ej {
		enforced += r.last()
	}
	t.Logf("%v ejections", enforced)
	if enforced < 2 {
		t.Errorf("%v ejections, want the pod ejected again after a re-admission", enforced)
	}
	for _, r := range series(t, e, "envoy_cluster_outlier_detection_ejections_active", map[string]string{"cluster_name": "outbound|8080||cart.books.svc.cluster.local"}) {
		if r.last() != 0 {
			t.Errorf("%s still ejects cart at the end", r.labels["pod"])
		}
	}
	uh := series(t, e, "istio_requests_total", map[string]string{"response_flags": "UH", "destination_service_name": "cart"})
	if len(uh) == 0 {
		t.Fatal("no UH while cart is ejected")
	}
	for _, r := range uh {
		if r.labels["reporter"] != "source" || r.labels["destination_workload"] != "unknown" {
			t.Errorf("UH series %v", r.labels)
		}
	}
	var ejections int
	for _, ev := range e.Truth().Timeline {
		if strings.Contains(ev.What, "ejects the pod of cart") {
			ejections++
		}
	}
	if ejections < 2 {
		t.Errorf("timeline has %d ejections", ejections)
	}
	// The callers' calls recover: the last 5 minutes have no UH and no 5xx.
	if inc := windowIncrease(e, uh, w5m); inc[uh[0].ticks[len(uh[0].ticks)-1]] != 0 {
		t.Error("UH in the last 5 minutes, after the pod recovered")
	}
	// No retries on these edges: no retry storm, no breaker.
	if n := sumLast(series(t, e, "envoy_cluster_upstream_rq_retry", nil)) + sumLast(series(t, e, "envoy_cluster_upstream_rq_pending_overflow", nil)); n != 0 {
		t.Errorf("%v retries or overflows", n)
	}
}
