package signals

import "regexp"

// The workload a pod belongs to, from the pod's name. Kubernetes names a
// controller's pods after it:
//
//   - Deployment: <name>-<pod-template-hash>-<suffix>; the hash is the
//     ReplicaSet's (a 32-bit FNV hash written in the safe alphabet, 1 to 10
//     characters), the suffix 5 random characters of the same alphabet.
//   - StatefulSet: <name>-<ordinal>.
//   - DaemonSet (and a Job's pods): <name>-<suffix>, 5 characters.
//   - A bare pod has no controller: its name is the workload's.
//
// The safe alphabet (k8s.io/apimachinery/pkg/util/rand) has no vowels and
// no 0, 1 or 3, so the suffixes spell no words and rarely look like a part
// of a name: "payments-primary-…" stays "payments-primary" ("primary" has
// vowels), "orders-db-0" is "orders-db". Where a name could be read both
// ways (a DaemonSet whose name ends in a vowel-free part of at most ten
// characters, like "cilium-xds-x2z4q"), the Deployment reading wins: the
// workload is the shortest name the rest of the pod name can follow.

// SafeAlphabet is the alphabet of Kubernetes' generated name parts.
const SafeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

const safe = "[" + SafeAlphabet + "]"

// PodSuffixPattern matches what a controller appends to its workload's name
// to name a pod, the leading dash included (a Go/RE2 regular expression, as
// Prometheus, Loki and Grafana use).
const PodSuffixPattern = `-(?:` + safe + `{1,10}-` + safe + `{5}|[0-9]+|` + safe + `{5})`

// WorkloadPattern matches a whole pod name and captures its workload as $1:
// the shortest name followed by a pod suffix, or the whole name of a bare
// pod. Prometheus' label_replace anchors it at both ends.
const WorkloadPattern = `(.+?)` + optionalSuffix

const optionalSuffix = `(?:` + PodSuffixPattern + `)?`

var workloadRE = regexp.MustCompile(`^(?s:` + WorkloadPattern + `)$`)

// WorkloadOf returns the workload of the pod named pod, as WorkloadFromPod
// derives it in PromQL.
func WorkloadOf(pod string) string {
	m := workloadRE.FindStringSubmatch(pod)
	if m == nil {
		return ""
	}
	return m[1]
}

// WorkloadFromPod wraps a PromQL instant-vector expression whose series
// carry a pod label so that they also carry the pod's workload label.
func WorkloadFromPod(expr string) string {
	return call("label_replace", expr, `"workload", "$1", "pod", "`+WorkloadPattern+`"`)
}

// PodOf is the label matcher (PromQL or LogQL) of the pods of the workloads
// that workloads matches: a workload name, an alternation ("a|b") or a
// Grafana variable such as $workload (a regular expression, not quoted).
// It is WorkloadPattern with the workload given: a pod it matches has one of
// them as WorkloadOf, except for names that read both ways (see above).
func PodOf(workloads string) string {
	return `pod=~"(` + workloads + `)` + optionalSuffix + `"`
}
