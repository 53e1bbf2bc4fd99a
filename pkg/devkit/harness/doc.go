// Package harness is the real-component test harness: it starts real
// Prometheus, promtool, Alertmanager, Loki (single- or multi-tenant), a
// Thanos Querier over HA Prometheus replicas with their sidecars, and
// kube-apiserver on etcd (with Flagger's and Istio's CRDs installed) as
// child processes on 127.0.0.1 and random free ports, waits until each is
// ready, and stops them (the whole process group) in t.Cleanup. When a test
// fails, the tail of each server's log is printed with t.Log.
//
// The binaries come from .ci/install-tools.sh, which installs pinned versions
// into $MESHWATCH_TOOLS/bin (default $HOME/.cache/meshwatch/tools/bin) and the
// CRDs into $MESHWATCH_TOOLS/crds. A missing binary skips the test, or fails it
// when CI=true.
//
// Every Start function is safe to call from parallel tests; each call gets its
// own server, ports and data directory under t.TempDir().
//
//	p := harness.StartPrometheus(t, harness.PrometheusOptions{ScrapeTargets: []string{addr}})
//	resp, err := http.Get(p.URL + "/api/v1/query?query=up")
package harness
