package signals

import (
	"regexp"
	"testing"
)

// podNames are real-looking pod names and the workload each belongs to.
var podNames = []struct{ pod, workload, kind string }{
	// Deployments: <name>-<pod-template-hash, 1–10>-<suffix, 5>.
	{"productpage-v1-6b746f74dc-9stz2", "productpage-v1", "Deployment"},
	{"reviews-v2-5b667bcbf8-lv8sg", "reviews-v2", "Deployment"},
	{"coredns-5d78c9869d-q7w2x", "coredns", "Deployment"},
	{"istiod-7d4f9c8b5-xk2lp", "istiod", "Deployment (9-character hash)"},
	{"nginx-58f4f7c4d-5dkxw", "nginx", "Deployment"},
	{"web-b-x2z4q", "web", "Deployment (1-character hash)"},
	{"payments-primary-7c9d8f6b5d-x2z4q", "payments-primary", "Deployment (Flagger primary)"},
	{"payments-7c9d8f6b5d-x2z4q", "payments", "Deployment (Flagger canary)"},
	{"web-2-6d4cf56db6-w2kxq", "web-2", "Deployment whose name ends in a digit"},
	{"svc-db-6d4cf56db6-w2kxq", "svc-db", "Deployment whose name ends in a vowel-free part"},
	// StatefulSets: <name>-<ordinal>.
	{"redis-master-0", "redis-master", "StatefulSet"},
	{"orders-db-0", "orders-db", "StatefulSet whose name ends in a vowel-free part"},
	{"kafka-12", "kafka", "StatefulSet"},
	{"prometheus-k8s-1", "prometheus-k8s", "StatefulSet"},
	{"alertmanager-main-2", "alertmanager-main", "StatefulSet"},
	// DaemonSets: <name>-<suffix, 5>.
	{"ztunnel-x2z4q", "ztunnel", "DaemonSet"},
	{"kube-proxy-7nq4l", "kube-proxy", "DaemonSet"},
	{"istio-cni-node-8vkkt", "istio-cni-node", "DaemonSet"},
	{"node-exporter-x8t2z", "node-exporter", "DaemonSet"},
	// A Job's pods (a CronJob's job is named <cronjob>-<minutes>).
	{"backup-28345678-x2z4q", "backup-28345678", "Job"},
	// Bare pods keep their name.
	{"netshoot", "netshoot", "bare pod"},
	{"debug-shell", "debug-shell", "bare pod"},
	{"api-7c9d8f6b5d", "api-7c9d8f6b5d", "bare pod (no suffix after the hash-like part)"},
	{"api-x2z4qq", "api-x2z4qq", "bare pod (6 characters are no suffix)"},
	{"api-7c9d8f6b5d2-x2z4q", "api-7c9d8f6b5d2", "DaemonSet-like (11 characters are no hash)"},
	// Reads both ways (a DaemonSet "cilium-xds" or a Deployment "cilium"):
	// the Deployment reading wins.
	{"cilium-xds-x2z4q", "cilium", "ambiguous"},
}

func TestWorkloadOf(t *testing.T) {
	for _, c := range podNames {
		if got := WorkloadOf(c.pod); got != c.workload {
			t.Errorf("%s (%s): workload %q, want %q", c.pod, c.kind, got, c.workload)
		}
	}
	if got := WorkloadOf(""); got != "" {
		t.Errorf("empty pod name: workload %q", got)
	}
}

// PodOf selects a workload's pods by the same pattern: each pod is matched
// by its own workload's selector and by no other workload's in the table.
func TestPodOfSelectsTheWorkloadsPods(t *testing.T) {
	matcher := regexp.MustCompile(`^pod=~"(.*)"$`)
	for _, w := range podNames {
		m := matcher.FindStringSubmatch(PodOf(regexp.QuoteMeta(w.workload)))
		if m == nil {
			t.Fatalf("PodOf(%q) = %s: not a pod=~ matcher", w.workload, PodOf(w.workload))
		}
		re := regexp.MustCompile(`^(?:` + m[1] + `)$`) // Prometheus anchors matchers
		for _, p := range podNames {
			if got, want := re.MatchString(p.pod), p.workload == w.workload; got != want {
				t.Errorf("PodOf(%q) matches %s: %v, want %v", w.workload, p.pod, got, want)
			}
		}
	}
	// Alternations and Grafana variables go in as they are.
	if got, want := PodOf("$canary|$canary-primary"), `pod=~"($canary|$canary-primary)`+optionalSuffix+`"`; got != want {
		t.Errorf("PodOf = %s, want %s", got, want)
	}
}

func TestWorkloadFromPod(t *testing.T) {
	want := `label_replace(up, "workload", "$1", "pod", "` + WorkloadPattern + `")`
	if got := WorkloadFromPod("up"); got != want {
		t.Errorf("WorkloadFromPod(up) = %s\nwant %s", got, want)
	}
	// The pattern the derivation and the selector share, as Kubernetes
	// names pods (k8s.io/apimachinery/pkg/util/rand's alphabet).
	const s = "[bcdfghjklmnpqrstvwxz2456789]"
	if want := `-(?:` + s + `{1,10}-` + s + `{5}|[0-9]+|` + s + `{5})`; PodSuffixPattern != want {
		t.Errorf("PodSuffixPattern = %s, want %s", PodSuffixPattern, want)
	}
}
