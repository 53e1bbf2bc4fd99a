package incident

import (
	"strings"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// DefaultWorkloadLabels are the labels the workload is read from, first
// found wins: MeshWatch's and Istio's own, then kube-state-metrics' and
// kube-prometheus-stack's, then the pod (its ReplicaSet and pod hashes
// removed), then the conventional app and service labels.
var DefaultWorkloadLabels = []string{"workload", "destination_workload", "deployment", "statefulset", "daemonset", "pod", "app", "service"}

// DefaultNamespaceLabels are the labels the namespace is read from.
var DefaultNamespaceLabels = []string{"namespace", "destination_workload_namespace", "exported_namespace"}

// Grouping derives the group key of an alert from its labels.
type Grouping struct {
	// WorkloadLabels and NamespaceLabels are tried in order; empty means the
	// defaults.
	WorkloadLabels  []string
	NamespaceLabels []string
}

// Key is what gathers alerts into one incident: the namespace and workload
// they concern. An alert that names no workload (a node or cluster alert)
// is grouped by its alertname in its namespace instead, so unrelated
// cluster-wide alerts never merge.
type Key struct {
	Namespace string `json:"namespace"`
	Workload  string `json:"workload"`
	// Alertname is set only when Workload is empty.
	Alertname string `json:"alertname,omitempty"`
}

// String is the key's canonical form, unique per key: what the store's
// unique constraint is on.
func (k Key) String() string {
	if k.Workload != "" {
		return k.Namespace + "/" + k.Workload
	}
	return k.Namespace + "/alertname=" + k.Alertname
}

// Of returns the group key of an alert with these labels.
func (g Grouping) Of(labels map[string]string) Key {
	k := Key{Namespace: first(labels, or(g.NamespaceLabels, DefaultNamespaceLabels))}
	for _, l := range or(g.WorkloadLabels, DefaultWorkloadLabels) {
		v := strings.TrimSpace(labels[l])
		if v == "" {
			continue
		}
		if l == "pod" {
			v = signals.WorkloadOf(v)
		}
		k.Workload = v
		return k
	}
	k.Alertname = labels["alertname"]
	return k
}

func first(labels map[string]string, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(labels[n]); v != "" {
			return v
		}
	}
	return ""
}

func or(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}
