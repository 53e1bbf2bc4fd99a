package simulator

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Kubelet plays the kubelet and the deployment controller for the
// Deployments of one namespace on a bare kube-apiserver (no controllers
// run there): it writes each Deployment's status as they would once every
// pod of the current template is up (observedGeneration, replicas,
// updated/ready/available replicas, the Available and Progressing
// conditions). That is what Flagger waits for before it initialises a
// canary or advances it ("waiting for rollout to finish: observed
// deployment generation less than desired generation").
//
// It also serves the mesh's view of those workloads at /metrics: Istio's
// destination-side istio_requests_total and istio_request_duration
// milliseconds histogram for every Deployment, with the traffic of a
// Flagger canary split by the weights Flagger wrote into the
// VirtualService, and a 5xx ratio per workload set with SetErrorRatio.
type Kubelet struct {
	Dyn       dynamic.Interface
	Namespace string
	// RPS is the requests per second the service receives (default 20).
	RPS float64

	mu       sync.Mutex
	errRatio map[string]float64
	total    map[string]map[string]float64 // workload -> code -> count
	buckets  map[string][]float64          // workload -> cumulative bucket counts
	durSum   map[string]float64
	last     time.Time
}

var (
	deploymentsGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	virtualServicesGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1beta1", Resource: "virtualservices"}
	durationBounds     = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}
)

// SetErrorRatio makes the given share (0..1) of workload's requests answer
// 503 from now on.
func (k *Kubelet) SetErrorRatio(workload string, ratio float64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.errRatio == nil {
		k.errRatio = map[string]float64{}
	}
	k.errRatio[workload] = ratio
}

// Run syncs the Deployments' status and advances the traffic every
// interval until ctx ends.
func (k *Kubelet) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = k.Sync(ctx)
		k.flow(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync writes the status of every Deployment whose status is behind its
// spec.
func (k *Kubelet) Sync(ctx context.Context) error {
	list, err := k.Dyn.Resource(deploymentsGVR).Namespace(k.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.Items {
		d := &list.Items[i]
		want := DeploymentStatus(d, time.Now())
		if statusCurrent(d, want) {
			continue
		}
		d.Object["status"] = want
		if _, err := k.Dyn.Resource(deploymentsGVR).Namespace(k.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("deployment %s status: %w", d.GetName(), err)
		}
	}
	return nil
}

// DeploymentStatus is the status the deployment controller and the kubelet
// would have written once the Deployment's current template runs all its
// replicas (spec.replicas, default 1; zero when scaled down).
func DeploymentStatus(d *unstructured.Unstructured, now time.Time) map[string]any {
	replicas := int64(1)
	if r, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); ok {
		replicas = r
	}
	ts := now.UTC().Format(time.RFC3339)
	cond := func(typ, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg,
			"lastUpdateTime": ts, "lastTransitionTime": ts}
	}
	return map[string]any{
		"observedGeneration": d.GetGeneration(),
		"replicas":           replicas,
		"updatedReplicas":    replicas,
		"readyReplicas":      replicas,
		"availableReplicas":  replicas,
		"conditions": []any{
			cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
			cond("Progressing", "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", d.GetName())),
		},
	}
}

func statusCurrent(d *unstructured.Unstructured, want map[string]any) bool {
	st, _, _ := unstructured.NestedMap(d.Object, "status")
	for _, k := range []string{"observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"} {
		if fmt.Sprint(st[k]) != fmt.Sprint(want[k]) {
			return false
		}
	}
	return true
}

// weights is the traffic share of each destination workload, from the
// VirtualServices Flagger wrote (host <name>-primary / <name>-canary);
// a Deployment without a VirtualService gets all of its service's traffic.
func (k *Kubelet) weights(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	deps, err := k.Dyn.Resource(deploymentsGVR).Namespace(k.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return out
	}
	running := map[string]bool{}
	for _, d := range deps.Items {
		if r, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); !ok || r > 0 {
			running[d.GetName()] = true
		}
	}
	routed := map[string]bool{}
	if vss, err := k.Dyn.Resource(virtualServicesGVR).Namespace(k.Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, vs := range vss.Items {
			https, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
			if len(https) == 0 {
				continue
			}
			routes, _, _ := unstructured.NestedSlice(https[0].(map[string]any), "route")
			for _, r := range routes {
				rm, _ := r.(map[string]any)
				host, _, _ := unstructured.NestedString(rm, "destination", "host")
				w, ok, _ := unstructured.NestedInt64(rm, "weight")
				if !ok {
					w = 100
				}
				wl := strings.TrimSuffix(strings.SplitN(host, ".", 2)[0], "-canary")
				routed[wl] = true
				out[wl] += float64(w) / 100
			}
		}
	}
	for name := range running {
		if !routed[name] && !routed[name+"-primary"] && !routed[strings.TrimSuffix(name, "-primary")] {
			out[name] = 1
		}
	}
	return out
}

// flow adds the requests since the last call, split by the weights.
func (k *Kubelet) flow(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w := k.weights(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.total == nil {
		k.total, k.buckets, k.durSum = map[string]map[string]float64{}, map[string][]float64{}, map[string]float64{}
	}
	if k.last.IsZero() {
		k.last = now
	}
	dt := now.Sub(k.last).Seconds()
	k.last = now
	rps := k.RPS
	if rps <= 0 {
		rps = 20
	}
	for wl, share := range w {
		if k.total[wl] == nil {
			k.total[wl] = map[string]float64{"200": 0, "503": 0}
			k.buckets[wl] = make([]float64, len(durationBounds)+1)
		}
		n := rps * share * dt
		bad := math.Round(n*k.errRatio[wl]*1000) / 1000
		k.total[wl]["503"] += bad
		k.total[wl]["200"] += n - bad
		// 20 ms for every request: well inside any latency threshold.
		for i := range k.buckets[wl] {
			if i == len(durationBounds) || durationBounds[i] >= 20 {
				k.buckets[wl][i] += n
			}
		}
		k.durSum[wl] += 20 * n
	}
}

// ServeHTTP writes the metrics in Prometheus' text format.
func (k *Kubelet) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	wls := make([]string, 0, len(k.total))
	for wl := range k.total {
		wls = append(wls, wl)
	}
	sort.Strings(wls)
	lbl := func(wl string) string {
		return fmt.Sprintf(`reporter="destination",destination_workload=%q,destination_workload_namespace=%q,destination_service=%q`,
			wl, k.Namespace, strings.TrimSuffix(wl, "-primary")+"."+k.Namespace+".svc.cluster.local")
	}
	fmt.Fprintln(w, "# TYPE istio_requests_total counter")
	for _, wl := range wls {
		for _, code := range []string{"200", "503"} {
			fmt.Fprintf(w, "istio_requests_total{%s,response_code=%q} %g\n", lbl(wl), code, k.total[wl][code])
		}
	}
	fmt.Fprintln(w, "# TYPE istio_request_duration_milliseconds histogram")
	for _, wl := range wls {
		for i, b := range durationBounds {
			fmt.Fprintf(w, "istio_request_duration_milliseconds_bucket{%s,le=%q} %g\n", lbl(wl), fmt.Sprint(b), k.buckets[wl][i])
		}
		all := k.buckets[wl][len(durationBounds)]
		fmt.Fprintf(w, "istio_request_duration_milliseconds_bucket{%s,le=\"+Inf\"} %g\n", lbl(wl), all)
		fmt.Fprintf(w, "istio_request_duration_milliseconds_sum{%s} %g\n", lbl(wl), k.durSum[wl])
		fmt.Fprintf(w, "istio_request_duration_milliseconds_count{%s} %g\n", lbl(wl), all)
	}
}
