package signals_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/signals"
)

// Prometheus derives the same workloads: promtool evaluates
// WorkloadFromPod and PodOf over a series per real-looking pod name
// (skipped without promtool, failing under CI=true).
func TestPrometheusDerivesTheWorkloadOfEachPod(t *testing.T) {
	pods := map[string]string{ // pod → workload, as TestWorkloadOf has them
		"productpage-v1-6b746f74dc-9stz2":   "productpage-v1",
		"coredns-5d78c9869d-q7w2x":          "coredns",
		"istiod-7d4f9c8b5-xk2lp":            "istiod",
		"web-b-x2z4q":                       "web",
		"web-2-6d4cf56db6-w2kxq":            "web-2",
		"payments-primary-7c9d8f6b5d-x2z4q": "payments-primary",
		"payments-7c9d8f6b5d-x2z4q":         "payments",
		"orders-db-0":                       "orders-db",
		"prometheus-k8s-1":                  "prometheus-k8s",
		"kafka-12":                          "kafka",
		"ztunnel-x2z4q":                     "ztunnel",
		"istio-cni-node-8vkkt":              "istio-cni-node",
		"netshoot":                          "netshoot",
		"api-7c9d8f6b5d":                    "api-7c9d8f6b5d",
	}
	var names []string
	for p, w := range pods {
		if got := signals.WorkloadOf(p); got != w {
			t.Fatalf("WorkloadOf(%s) = %s, want %s", p, got, w)
		}
		names = append(names, p)
	}
	sort.Strings(names)

	var in, derived strings.Builder
	for _, p := range names {
		fmt.Fprintf(&in, "      - series: 'kube_pod_info{namespace=\"ns\", pod=\"%s\"}'\n        values: '1'\n", p)
		fmt.Fprintf(&derived, "          - labels: 'workload:kube_pod_info{namespace=\"ns\", pod=\"%s\", workload=\"%s\"}'\n            value: 1\n", p, pods[p])
	}
	// One selector per workload: PodOf selects exactly its pods.
	var selected strings.Builder
	workloads := map[string][]string{}
	for _, p := range names {
		workloads[pods[p]] = append(workloads[pods[p]], p)
	}
	var ws []string
	for w := range workloads {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	for _, w := range ws {
		fmt.Fprintf(&selected, "      - expr: 'kube_pod_info{%s}'\n        eval_time: 0m\n        exp_samples:\n", strings.ReplaceAll(signals.PodOf(w), `'`, `''`))
		for _, p := range workloads[w] {
			fmt.Fprintf(&selected, "          - labels: 'kube_pod_info{namespace=\"ns\", pod=\"%s\"}'\n            value: 1\n", p)
		}
	}

	dir := t.TempDir()
	rules := "groups:\n  - name: workload\n    rules:\n      - record: workload:kube_pod_info\n        expr: |\n" +
		"          " + signals.WorkloadFromPod("kube_pod_info") + "\n"
	tests := "rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" + in.String() +
		"    promql_expr_test:\n      - expr: workload:kube_pod_info\n        eval_time: 0m\n        exp_samples:\n" + derived.String() +
		selected.String()
	for name, body := range map[string]string{"rules.yaml": rules, "rules.test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := harness.CheckRules(t, filepath.Join(dir, "rules.yaml")); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, rules)
	}
	out, err := harness.TestRules(t, filepath.Join(dir, "rules.test.yaml"))
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, tests)
	}
	t.Logf("promtool: %d pods, %d workloads: %s", len(names), len(ws), strings.TrimSpace(out))
}
