package simulator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// kubeEvent is a core/v1 Event, aggregated like the kubelet and Flagger do
// (same object, reason and message: count++).
type kubeEvent struct {
	kind, ns, name       string
	reason, message, typ string
	component            string
	first, last          time.Time
	count                int
}

func (e *Engine) kubeEvent(t time.Time, kind, ns, name, reason, message, typ, component string) {
	for _, ev := range e.events {
		if ev.kind == kind && ev.ns == ns && ev.name == name && ev.reason == reason && ev.message == message {
			ev.count++
			ev.last = t
			return
		}
	}
	e.events = append(e.events, &kubeEvent{kind: kind, ns: ns, name: name, reason: reason, message: message, typ: typ, component: component, first: t, last: t, count: 1})
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Object is a Kubernetes object as an unstructured map (what the dynamic client takes).
type Object = map[string]any

func meta(name, ns string, labels map[string]string, t time.Time) map[string]any {
	m := map[string]any{"name": name, "creationTimestamp": ts(t)}
	if ns != "" {
		m["namespace"] = ns
	}
	if len(labels) > 0 {
		l := map[string]any{}
		for k, v := range labels {
			l[k] = v
		}
		m["labels"] = l
	}
	return m
}

// Objects returns the Kubernetes state at the current simulated time, in
// the order they can be created: Namespaces, ServiceAccounts, Services,
// Deployments, Pods, Istio policies, the Flagger Canary, Events.
func (e *Engine) Objects() []Object {
	now := e.now
	var out []Object
	nsSet := map[string]bool{IstioNamespace: true}
	for _, ns := range e.mesh.Namespaces {
		nsSet[ns] = true
	}
	for _, p := range e.pods {
		nsSet[p.w.Namespace] = true
	}
	var nss []string
	for ns := range nsSet {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		labels := map[string]string{"kubernetes.io/metadata.name": ns}
		if slices.Contains(e.mesh.Namespaces, ns) {
			labels["istio-injection"] = "enabled"
		}
		out = append(out, Object{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, "", labels, e.opts.Start.Add(-30*24*time.Hour))})
	}
	used := map[int]bool{}
	for _, p := range e.pods {
		used[p.wi] = true
	}
	for i, w := range e.mesh.Workloads {
		if w.CanaryTarget { // Flagger keeps the target Deployment, scaled to zero
			used[i] = true
		}
	}
	sas := map[string]bool{}
	for i, w := range e.mesh.Workloads {
		if !used[i] || sas[w.Namespace+"/"+w.ServiceAccount] { // the primary (payments-primary) shares the target's service account
			continue
		}
		sas[w.Namespace+"/"+w.ServiceAccount] = true
		out = append(out, Object{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(w.ServiceAccount, w.Namespace, nil, e.opts.Start.Add(-30*24*time.Hour))})
	}
	for i, w := range e.mesh.Workloads {
		if !used[i] || w.Service == "" {
			continue
		}
		name := "http"
		if w.Protocol == "tcp" {
			name = "tcp-" + strings.Replace(dbSystem(w.DBSystem), "postgresql", "postgres", 1) // tcp-postgres, tcp-mysql
		}
		sel := map[string]any{"app": w.App}
		if !e.canaryOwned(w) || e.canaryExists() { // a deleted Canary's services are garbage-collected
			spec := map[string]any{"selector": sel, "ports": []any{map[string]any{"name": name, "port": int64(w.Port), "targetPort": int64(w.Port), "protocol": "TCP"}}}
			if w.statefulSet() {
				spec["clusterIP"] = "None" // the StatefulSet's headless governing service
			}
			out = append(out, Object{"apiVersion": "v1", "kind": "Service",
				"metadata": meta(w.Service, w.Namespace, map[string]string{"app": w.App}, e.opts.Start.Add(-30*24*time.Hour)),
				"spec":     spec})
		}
		if e.canary != nil && i == e.canary.wPrimary {
			target := e.canary.name
			apex := target + "-primary"
			if e.canary.reverted { // Flagger's finalizer gave the apex service back to the target
				apex = target
			}
			out = append(out, Object{"apiVersion": "v1", "kind": "Service",
				"metadata": meta(target, w.Namespace, map[string]string{"app": target}, e.opts.Start.Add(-30*24*time.Hour)),
				"spec":     map[string]any{"selector": map[string]any{"app": apex}, "ports": []any{map[string]any{"name": "http", "port": int64(w.Port), "targetPort": int64(w.Port), "protocol": "TCP"}}}})
		}
	}
	for i, w := range e.mesh.Workloads {
		if used[i] && (e.canary == nil || i != e.canary.wPrimary || e.canary.exists()) {
			out = append(out, e.workloadObject(i, w, now))
		}
	}
	for _, p := range e.pods {
		if p.alive {
			out = append(out, e.podObject(p, now))
		}
	}
	out = append(out, e.istioObjects()...)
	if e.canaryExists() {
		out = append(out, e.canaryObject())
	}
	for i, ev := range e.events {
		out = append(out, eventObject(i, ev))
	}
	return out
}

// workloadObject is the workload's Deployment or StatefulSet.
func (e *Engine) workloadObject(wi int, w *Workload, now time.Time) Object {
	p := e.cur[wi]
	replicas := int64(0)
	if p != nil {
		replicas = 1
	}
	ready := int64(0)
	if p.appUp() {
		ready = 1
	}
	labels := map[string]any{"app": w.App}
	if w.Version != "unknown" {
		labels["version"] = w.Version
	}
	containers := []any{}
	if w.Container != "" {
		containers = append(containers, containerSpec(w.Container, w.Image, w.Port, w.MemRequest, w.MemLimit, w.CPURequest, w.CPULimit))
	} else {
		containers = append(containers, containerSpec(ProxyContainer, w.Image, w.Port, ProxyMemRequest, ProxyMemLimit, ProxyCPURequest, ProxyCPULimit))
	}
	status := map[string]any{"observedGeneration": int64(1), "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready}
	if ready < replicas {
		status["unavailableReplicas"] = replicas - ready
	}
	avail := "True"
	if ready < replicas {
		avail = "False"
	}
	status["conditions"] = []any{
		map[string]any{"type": "Available", "status": avail, "reason": map[bool]string{true: "MinimumReplicasAvailable", false: "MinimumReplicasUnavailable"}[avail == "True"],
			"message": "Deployment has minimum availability.", "lastUpdateTime": ts(now), "lastTransitionTime": ts(now)},
		map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
			"message": fmt.Sprintf("ReplicaSet %q has successfully progressed.", w.Name), "lastUpdateTime": ts(now), "lastTransitionTime": ts(now)},
	}
	tmplLabels := map[string]any{}
	for k, v := range labels {
		tmplLabels[k] = v
	}
	annotations := map[string]any{"prometheus.io/scrape": "true"}
	if w.Sidecar && !w.Gateway {
		annotations = map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus"}
	}
	md := meta(w.Name, w.Namespace, nil, e.opts.Start.Add(-7*24*time.Hour))
	md["labels"] = labels
	if w.statefulSet() {
		revision := w.Name + "-" + kubeSuffix(stableHash(w.Namespace, w.Name, w.Version, "revision"), 10)
		status := map[string]any{"observedGeneration": int64(1), "replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
			"currentReplicas": replicas, "updatedReplicas": replicas, "currentRevision": revision, "updateRevision": revision, "collisionCount": int64(0)}
		return Object{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": md,
			"spec": map[string]any{
				"replicas":            replicas,
				"serviceName":         w.Service,
				"podManagementPolicy": "OrderedReady",
				"selector":            map[string]any{"matchLabels": map[string]any{"app": labels["app"]}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": tmplLabels, "annotations": annotations},
					"spec":     map[string]any{"serviceAccountName": w.ServiceAccount, "containers": containers},
				},
			},
			"status": status,
		}
	}
	return Object{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": labels["app"]}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": tmplLabels, "annotations": annotations},
				"spec":     map[string]any{"serviceAccountName": w.ServiceAccount, "containers": containers},
			},
		},
		"status": status,
	}
}

func containerSpec(name, image string, port int, memReq, memLim, cpuReq, cpuLim float64) map[string]any {
	c := map[string]any{
		"name": name, "image": image,
		"resources": map[string]any{
			"requests": map[string]any{"cpu": fmt.Sprintf("%dm", int(cpuReq*1000)), "memory": fmt.Sprintf("%dMi", int(memReq/Mi))},
			"limits":   map[string]any{"cpu": fmt.Sprintf("%dm", int(cpuLim*1000)), "memory": fmt.Sprintf("%dMi", int(memLim/Mi))},
		},
	}
	if port > 0 {
		c["ports"] = []any{map[string]any{"containerPort": int64(port), "protocol": "TCP"}}
	}
	return c
}

func (e *Engine) podObject(p *pod, now time.Time) Object {
	w := p.w
	labels := map[string]string{"app": w.App}
	owner := map[string]any{"apiVersion": "apps/v1", "controller": true, "blockOwnerDeletion": true}
	if w.statefulSet() {
		ordinal := strings.TrimPrefix(p.name, w.Name+"-")
		labels["controller-revision-hash"] = w.Name + "-" + kubeSuffix(stableHash(w.Namespace, w.Name, p.version, "revision"), 10)
		labels["statefulset.kubernetes.io/pod-name"] = p.name
		labels["apps.kubernetes.io/pod-index"] = ordinal
		owner["kind"], owner["name"], owner["uid"] = "StatefulSet", w.Name, uid(w.Namespace, w.Name, "sts")
	} else {
		labels["pod-template-hash"] = strings.Split(strings.TrimPrefix(p.name, w.Name+"-"), "-")[0]
		owner["kind"], owner["name"], owner["uid"] = "ReplicaSet", w.Name+"-"+labels["pod-template-hash"], uid(w.Namespace, w.Name, "rs", labels["pod-template-hash"])
	}
	if p.version != "unknown" {
		labels["version"] = p.version
	}
	if w.Sidecar {
		labels["security.istio.io/tlsMode"] = "istio"
		labels["service.istio.io/canonical-name"] = w.App
		labels["service.istio.io/canonical-revision"] = map[bool]string{true: "latest", false: p.version}[p.version == "unknown"]
	}
	md := meta(p.name, w.Namespace, labels, p.created)
	md["ownerReferences"] = []any{owner}
	if w.Sidecar && !w.Gateway {
		md["annotations"] = map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus",
			"sidecar.istio.io/status": `{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null}`}
	}
	var specs, statuses []any
	allReady := true
	for _, c := range []*container{p.app, p.proxy} {
		if c == nil {
			continue
		}
		image := p.image
		if c.isProxy {
			image = "docker.io/istio/proxyv2:" + IstioVersion
		}
		specs = append(specs, containerSpec(c.name, image, map[bool]int{true: 15090, false: w.Port}[c.isProxy && !w.Gateway], c.memReq, c.memLim, c.cpuReq, c.cpuLim))
		st := map[string]any{"name": c.name, "image": image, "imageID": "", "ready": c.running, "restartCount": int64(c.restarts), "started": c.running,
			"containerID": fmt.Sprintf("containerd://%016x%016x", stableHash(p.name, c.name, fmt.Sprint(c.restarts)), stableHash(c.name, p.name))}
		if c.running {
			st["state"] = map[string]any{"running": map[string]any{"startedAt": ts(c.startedAt)}}
		} else {
			allReady = false
			st["state"] = map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff",
				"message": fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", c.backoff/2, c.name, p.name, w.Namespace, p.uid)}}
		}
		if c.lastReason != "" {
			st["lastState"] = map[string]any{"terminated": map[string]any{"reason": c.lastReason, "exitCode": int64(exitCode(c.lastReason)),
				"startedAt": ts(c.startedAt.Add(-time.Minute)), "finishedAt": ts(c.waitUntil.Add(-c.backoff / 2))}}
		}
		statuses = append(statuses, st)
	}
	ready := map[bool]string{true: "True", false: "False"}[allReady]
	return Object{"apiVersion": "v1", "kind": "Pod", "metadata": md,
		"spec": map[string]any{"nodeName": NodeName, "serviceAccountName": w.ServiceAccount, "containers": specs, "restartPolicy": "Always"},
		"status": map[string]any{
			"phase": "Running", "podIP": p.ip, "hostIP": "192.168.50.10", "startTime": ts(p.created), "qosClass": "Burstable",
			"podIPs": []any{map[string]any{"ip": p.ip}},
			"conditions": []any{
				map[string]any{"type": "Initialized", "status": "True", "lastTransitionTime": ts(p.created)},
				map[string]any{"type": "Ready", "status": ready, "lastTransitionTime": ts(now)},
				map[string]any{"type": "ContainersReady", "status": ready, "lastTransitionTime": ts(now)},
				map[string]any{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(p.created)},
			},
			"containerStatuses": statuses,
		},
	}
}

func (e *Engine) istioObjects() []Object {
	created := e.opts.Start.Add(-20 * 24 * time.Hour)
	var out []Object
	for _, ns := range e.mesh.Namespaces {
		out = append(out, Object{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta("default", ns, nil, created),
			"spec": map[string]any{"mtls": map[string]any{"mode": "STRICT"}}})
	}
	for _, eff := range e.effects {
		switch eff.Kind {
		case PlaintextSource:
			w := e.mesh.Workload(eff.Target)
			out = append(out, Object{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
				"metadata": meta(w.Name, w.Namespace, nil, eff.Start.Add(-time.Hour)),
				"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": w.App}},
					"mtls":          map[string]any{"mode": "STRICT"},
					"portLevelMtls": map[string]any{fmt.Sprint(w.Port): map[string]any{"mode": "PERMISSIVE"}}}})
		case XDSRejects:
			w := e.mesh.Workload(eff.Target)
			out = append(out, Object{"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
				"metadata": meta(w.Name+"-request-headers", w.Namespace, nil, eff.Start),
				"spec": map[string]any{
					"workloadSelector": map[string]any{"labels": map[string]any{"app": w.App}},
					"configPatches": []any{map[string]any{
						"applyTo": "HTTP_FILTER",
						"match":   map[string]any{"context": "SIDECAR_INBOUND", "listener": map[string]any{"filterChain": map[string]any{"filter": map[string]any{"name": "envoy.filters.network.http_connection_manager"}}}},
						"patch": map[string]any{"operation": "INSERT_BEFORE", "value": map[string]any{
							"name": "envoy.filters.http.lua",
							"typed_config": map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
								"inlineCode": "function envoy_on_request(handle)\n  local headers handle:headers()\n  headers:add(\"x-shop\", \"1\")\nend\n"}}},
					}},
				}})
		}
	}
	return out
}

// CanaryStatus returns the Canary's status now (payments's in the
// default mesh; the zero status when the mesh has no canary).
func (e *Engine) CanaryStatus() CanaryStatus {
	if e.canary == nil {
		return CanaryStatus{}
	}
	return e.canary.status
}

// canaryExists reports whether the mesh's Canary object exists.
func (e *Engine) canaryExists() bool { return e.canary != nil && e.canary.exists() }

// canaryOwned reports whether Flagger's Canary owns (and garbage
// collection deletes with it) the workload's Service: the primary's and
// the canary target's generated <name>-primary and <name>-canary.
func (e *Engine) canaryOwned(w *Workload) bool {
	return (e.canary != nil && w.Name == e.canary.name+"-primary") || w.CanaryTarget
}

func (e *Engine) canaryObject() Object {
	c := e.canary
	st := e.CanaryStatus()
	condStatus, _ := promotedCondition(st.Phase)
	load, port := e.mesh.CanaryLoad, e.mesh.Workload(c.name).Port
	method := load.Method
	if method == "" {
		method = "GET"
	}
	webhooks := []any{map[string]any{"name": "load-test", "url": "http://" + loadTesterName + "." + c.ns + "/", "timeout": "5s",
		"metadata": map[string]any{"cmd": fmt.Sprintf("hey -z 1m -q 5 -c 1 -m %s http://%s-canary.%s:%d%s", method, c.name, c.ns, port, load.Path)}}}
	for _, g := range c.gates {
		webhooks = append(webhooks, map[string]any{"name": g, "type": g, "url": gateURL(g, c.ns), "timeout": "5s"})
	}
	spec := map[string]any{
		"provider":                "istio",
		"targetRef":               map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": c.name},
		"progressDeadlineSeconds": int64(120),
		"revertOnDeletion":        true,
		"service": map[string]any{"port": int64(port), "targetPort": int64(port),
			"trafficPolicy": map[string]any{"tls": map[string]any{"mode": "ISTIO_MUTUAL"}}},
		"analysis": map[string]any{
			"interval":    shortDuration(c.spec.Interval),
			"threshold":   int64(c.spec.Threshold),
			"stepWeights": []any{int64(10), int64(25), int64(50)},
			"metrics": []any{
				map[string]any{"name": "request-success-rate", "thresholdRange": map[string]any{"min": c.spec.MinSuccessRate}, "interval": "1m"},
				map[string]any{"name": "request-duration", "thresholdRange": map[string]any{"max": int64(c.spec.MaxDurationMs)}, "interval": "1m"},
			},
			"webhooks": webhooks,
		},
	}
	for i, w := range c.spec.StepWeights {
		spec["analysis"].(map[string]any)["stepWeights"].([]any)[i] = int64(w)
	}
	md := meta(c.name, c.ns, nil, e.opts.Start.Add(-20*24*time.Hour))
	md["generation"] = int64(2)
	return Object{"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": md, "spec": spec,
		"status": map[string]any{
			"phase": st.Phase, "canaryWeight": int64(st.CanaryWeight), "iterations": int64(st.Iterations), "failedChecks": int64(st.FailedChecks),
			"lastTransitionTime": ts(st.LastTransitionTime),
			"lastAppliedSpec":    fmt.Sprintf("%x", stableHash(c.name, e.mesh.Workloads[c.wCanary].Version))[:10],
			"lastPromotedSpec":   fmt.Sprintf("%x", stableHash(c.name, e.mesh.Workloads[c.wPrimary].Version))[:10],
			"conditions": []any{map[string]any{"type": "Promoted", "status": condStatus, "reason": st.Phase, "message": st.Message,
				"lastUpdateTime": ts(st.LastTransitionTime), "lastTransitionTime": ts(st.LastTransitionTime)}},
		},
	}
}

func eventObject(i int, ev *kubeEvent) Object {
	apiVersion := map[string]string{"Pod": "v1", "Node": "v1", "Canary": "flagger.app/v1beta1"}[ev.kind]
	name := fmt.Sprintf("%s.%x", ev.name, ev.first.UnixNano()+int64(i))
	ns := ev.ns
	if ns == "" {
		ns = "default"
	}
	involved := map[string]any{"kind": ev.kind, "name": ev.name, "apiVersion": apiVersion}
	if ev.ns != "" {
		involved["namespace"] = ev.ns
	}
	return Object{"apiVersion": "v1", "kind": "Event", "metadata": meta(name, ns, nil, ev.first),
		"involvedObject": involved, "reason": ev.reason, "message": ev.message, "type": ev.typ,
		"source": map[string]any{"component": ev.component}, "count": int64(ev.count),
		"firstTimestamp": ts(ev.first), "lastTimestamp": ts(ev.last), "reportingComponent": ev.component, "reportingInstance": ""}
}

// WriteObjectFiles writes objects as multi-document YAML under dir, one
// file per kind, numbered in creation order (00-namespace.yaml …).
func WriteObjectFiles(dir string, objs []Object) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var kinds []string
	byKind := map[string]*bytes.Buffer{}
	for _, o := range objs {
		k := strings.ToLower(o["kind"].(string))
		b := byKind[k]
		if b == nil {
			b = &bytes.Buffer{}
			byKind[k] = b
			kinds = append(kinds, k)
		}
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	for i, k := range kinds {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.yaml", i, k)), byKind[k].Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ResourceFor maps the kinds Objects produces to their API resources.
func ResourceFor(apiVersion, kind string) (gvr schema.GroupVersionResource, namespaced bool, err error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return gvr, false, err
	}
	res, ok := map[string]string{
		"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Service": "services", "Deployment": "deployments", "StatefulSet": "statefulsets",
		"Pod": "pods", "Event": "events", "Canary": "canaries", "PeerAuthentication": "peerauthentications", "EnvoyFilter": "envoyfilters",
	}[kind]
	if !ok {
		return gvr, false, fmt.Errorf("no resource known for kind %s", kind)
	}
	return gv.WithResource(res), kind != "Namespace", nil
}

// hasStatusSubresource lists the kinds whose status is written separately.
var hasStatusSubresource = map[string]bool{"Deployment": true, "StatefulSet": true, "Pod": true, "Canary": true}

// ApplyObjects creates (or updates) objects through a dynamic client, then
// writes their status through the status subresource, as the controllers
// that own them would. Kinds whose API is not installed fail with a clear
// error unless skipMissing is set, in which case they are skipped.
func ApplyObjects(ctx context.Context, dyn dynamic.Interface, objs []Object, skipMissing bool) error {
	for _, o := range objs {
		obj := (&unstructured.Unstructured{Object: runtime.DeepCopyJSON(o)})
		kind, name, ns := obj.GetKind(), obj.GetName(), obj.GetNamespace()
		gvr, namespaced, err := ResourceFor(obj.GetAPIVersion(), kind)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if namespaced {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		status, hasStatus := obj.Object["status"]
		if hasStatusSubresource[kind] {
			delete(obj.Object, "status")
		}
		unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
		got, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "meshwatch-simulator"})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := ri.Get(ctx, name, metav1.GetOptions{})
			if gerr != nil {
				return fmt.Errorf("get %s %s/%s: %w", kind, ns, name, gerr)
			}
			// Merge ours onto what the server holds, so fields it defaulted or
			// allocated (clusterIP, a pod's immutable spec) stay as they are.
			mergeInto(cur.Object, obj.Object)
			got, err = ri.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "meshwatch-simulator"})
		}
		if err != nil {
			if skipMissing && (apierrors.IsNotFound(err) || strings.Contains(err.Error(), "the server could not find the requested resource")) {
				continue
			}
			return fmt.Errorf("apply %s %s/%s: %w", kind, ns, name, err)
		}
		if hasStatus && hasStatusSubresource[kind] {
			got.Object["status"] = runtime.DeepCopyJSONValue(status)
			if _, err := ri.UpdateStatus(ctx, got, metav1.UpdateOptions{FieldManager: "meshwatch-simulator"}); err != nil {
				return fmt.Errorf("update status of %s %s/%s: %w", kind, ns, name, err)
			}
		}
	}
	return nil
}

// shortDuration renders 1m0s as "1m" and 90s as "1m30s", as people write them.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// mergeInto merges src into dst: maps recursively, lists of the same length
// element by element, anything else replaced.
func mergeInto(dst, src map[string]any) {
	for k, sv := range src {
		switch sv := sv.(type) {
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergeInto(dv, sv)
				continue
			}
		case []any:
			if dv, ok := dst[k].([]any); ok && len(dv) == len(sv) {
				for i := range sv {
					dm, ok1 := dv[i].(map[string]any)
					sm, ok2 := sv[i].(map[string]any)
					if ok1 && ok2 {
						mergeInto(dm, sm)
					} else {
						dv[i] = sv[i]
					}
				}
				continue
			}
		}
		dst[k] = sv
	}
}
