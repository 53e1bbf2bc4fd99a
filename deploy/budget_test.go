package deploy_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The budget of the homelab overlay: every pod's requests except k3s' own
// (CoreDNS, local-path-provisioner, svclb), including istiod, the ingress
// gateway and every sidecar, must fit here, in steady state and while a
// canary analysis runs its extra pod.
var (
	budgetCPU    = resource.MustParse("900m")
	budgetMemory = resource.MustParse("1536Mi")
	// ollama-in-cluster is for a bigger node (>= 4 vCPU / 8 GB, k3s takes ~1.6 GB).
	bigNodeCPU    = resource.MustParse("2")
	bigNodeMemory = resource.MustParse("6Gi")
)

var sidecarAnnotations = []string{
	"sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory",
	"sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit",
}

// resources is requests and limits of CPU and memory.
type resources struct{ reqCPU, reqMem, limCPU, limMem resource.Quantity }

func (r *resources) add(o resources) {
	r.reqCPU.Add(o.reqCPU)
	r.reqMem.Add(o.reqMem)
	r.limCPU.Add(o.limCPU)
	r.limMem.Add(o.limMem)
}

func (r resources) times(n int) resources {
	var out resources
	for i := 0; i < n; i++ {
		out.add(r)
	}
	return out
}

func maxQ(a, b resource.Quantity) resource.Quantity {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

func quantity(t testing.TB, m map[string]any, path ...string) resource.Quantity {
	t.Helper()
	s, _, _ := unstructured.NestedFieldNoCopy(m, path...)
	if s == nil {
		return resource.Quantity{}
	}
	q, err := resource.ParseQuantity(fmt.Sprint(s))
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(path, "."), err)
	}
	return q
}

func containerResources(t testing.TB, c map[string]any) resources {
	return resources{
		reqCPU: quantity(t, c, "resources", "requests", "cpu"),
		reqMem: quantity(t, c, "resources", "requests", "memory"),
		limCPU: quantity(t, c, "resources", "limits", "cpu"),
		limMem: quantity(t, c, "resources", "limits", "memory"),
	}
}

// injected reports whether Istio's injector adds a sidecar to the pod.
func injected(o *unstructured.Unstructured, tmpl map[string]any, objs []*unstructured.Unstructured) bool {
	podLabel, _, _ := unstructured.NestedString(tmpl, "metadata", "labels", "sidecar.istio.io/inject")
	nsLabel := ""
	for _, n := range objs {
		if n.GetKind() == "Namespace" && n.GetName() == o.GetNamespace() {
			nsLabel = n.GetLabels()["istio-injection"]
		}
	}
	switch nsLabel {
	case "enabled":
		return podLabel != "false"
	case "disabled":
		return false
	}
	return podLabel == "true"
}

// istio is what the values file gives istiod, the gateway and every sidecar.
type istio struct {
	istiod, gateway, proxy resources
}

func loadIstio(t testing.TB) istio {
	var iop map[string]any
	readYAMLFile(t, istioValues, &iop)
	pick := func(path ...string) resources {
		m, ok, _ := unstructured.NestedMap(iop, path...)
		if !ok {
			t.Fatalf("%s: no %s", istioValues, strings.Join(path, "."))
		}
		return containerResources(t, map[string]any{"resources": m})
	}
	gws, _, _ := unstructured.NestedSlice(iop, "spec", "components", "ingressGateways")
	var gw resources
	n := 0
	for _, g := range gws {
		gm := g.(map[string]any)
		if gm["enabled"] == true {
			res, _, _ := unstructured.NestedMap(gm, "k8s", "resources")
			gw.add(containerResources(t, map[string]any{"resources": res}))
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s: want one enabled ingress gateway, found %d", istioValues, n)
	}
	return istio{
		istiod:  pick("spec", "components", "pilot", "k8s", "resources"),
		gateway: gw,
		proxy:   pick("spec", "values", "global", "proxy", "resources"),
	}
}

// sidecar returns the istio-proxy size of a pod: the values' default with the
// pod's sidecar.istio.io/proxy* annotations applied.
func sidecar(t testing.TB, is istio, tmpl map[string]any) resources {
	r := is.proxy
	ann, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "annotations")
	for key, dst := range map[string]*resource.Quantity{
		"sidecar.istio.io/proxyCPU": &r.reqCPU, "sidecar.istio.io/proxyMemory": &r.reqMem,
		"sidecar.istio.io/proxyCPULimit": &r.limCPU, "sidecar.istio.io/proxyMemoryLimit": &r.limMem,
	} {
		if v := ann[key]; v != "" {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			*dst = q
		}
	}
	return r
}

type budgetRow struct {
	component string
	pods      int
	note      string
	res       resources // all pods
}

// budget returns one row per component of a rendered overlay, in steady
// state, and the extra pod a canary analysis adds.
func budget(t testing.TB, objs []*unstructured.Unstructured) (rows []budgetRow, canaryExtra resources) {
	is := loadIstio(t)
	rows = append(rows,
		budgetRow{"istio-system/istiod (values.yaml)", 1, "", is.istiod},
		budgetRow{"istio-system/istio-ingressgateway (values.yaml)", 1, "", is.gateway},
	)
	targets := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Canary" {
			name, _, _ := unstructured.NestedString(o.Object, "spec", "targetRef", "name")
			targets[o.GetNamespace()+"/"+name] = true
		}
	}
	for _, o := range objs {
		spec, tmpl := podSpec(o)
		if spec == nil {
			continue
		}
		// A pod's request is max(each init container, sum of containers).
		var app, initMax resources
		var pod resources
		for _, c := range containers(spec) {
			r := containerResources(t, c.m)
			if c.init {
				initMax = resources{maxQ(initMax.reqCPU, r.reqCPU), maxQ(initMax.reqMem, r.reqMem), maxQ(initMax.limCPU, r.limCPU), maxQ(initMax.limMem, r.limMem)}
			} else {
				app.add(r)
			}
		}
		note := ""
		if injected(o, tmpl, objs) {
			sc := sidecar(t, is, tmpl)
			app.add(sc) // istio-proxy; istio-init (an init container of the same size) does not raise the max
			note = "+ istio-proxy " + sc.reqCPU.String() + "/" + sc.reqMem.String()
		}
		pod = resources{maxQ(app.reqCPU, initMax.reqCPU), maxQ(app.reqMem, initMax.reqMem), maxQ(app.limCPU, initMax.limCPU), maxQ(app.limMem, initMax.limMem)}

		pods := 1
		name := o.GetNamespace() + "/" + o.GetName()
		switch o.GetKind() {
		case "Deployment", "StatefulSet":
			if r, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
				pods = int(r)
			}
		case "DaemonSet":
			pods = 1 // one node
		}
		if targets[name] {
			// Flagger runs the template as <name>-primary and scales the
			// target itself to zero between analyses.
			name += "-primary (Flagger)"
			pods = 1
			canaryExtra = pod
		}
		rows = append(rows, budgetRow{name, pods, note, pod.times(pods)})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].component < rows[j].component })
	return rows, canaryExtra
}

func formatBudget(rows []budgetRow, total, canary resources) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-52s %4s %9s %9s %9s %9s  %s\n", "component", "pods", "req cpu", "req mem", "lim cpu", "lim mem", "")
	mi := func(q resource.Quantity) string { return fmt.Sprintf("%dMi", q.Value()/(1<<20)) }
	m := func(q resource.Quantity) string { return fmt.Sprintf("%dm", q.MilliValue()) }
	for _, r := range rows {
		fmt.Fprintf(&b, "%-52s %4d %9s %9s %9s %9s  %s\n", r.component, r.pods, m(r.res.reqCPU), mi(r.res.reqMem), m(r.res.limCPU), mi(r.res.limMem), r.note)
	}
	fmt.Fprintf(&b, "%-52s %4s %9s %9s %9s %9s\n", "TOTAL (steady state)", "", m(total.reqCPU), mi(total.reqMem), m(total.limCPU), mi(total.limMem))
	peak := total
	peak.add(canary)
	fmt.Fprintf(&b, "%-52s %4s %9s %9s %9s %9s\n", "TOTAL during a canary analysis (+1 pod)", "", m(peak.reqCPU), mi(peak.reqMem), m(peak.limCPU), mi(peak.limMem))
	return b.String()
}

func TestResourceBudget(t *testing.T) {
	for _, c := range []struct {
		dir      string
		cpu, mem resource.Quantity
	}{
		{"overlays/homelab", budgetCPU, budgetMemory},
		{"overlays/ollama-in-cluster", bigNodeCPU, bigNodeMemory},
	} {
		t.Run(c.dir, func(t *testing.T) {
			rows, canary := budget(t, render(t, c.dir))
			var total resources
			for _, r := range rows {
				total.add(r.res)
			}
			t.Logf("requests and limits of %s (budget %s CPU, %s memory requested):\n%s", c.dir, c.cpu.String(), c.mem.String(), formatBudget(rows, total, canary))
			if canary.reqMem.IsZero() {
				t.Error("no canary target found: the payments Canary's extra pod is not budgeted")
			}
			peak := total
			peak.add(canary)
			for _, s := range []struct {
				name string
				r    resources
			}{{"steady state", total}, {"during a canary analysis", peak}} {
				if s.r.reqCPU.Cmp(c.cpu) > 0 {
					t.Errorf("%s: CPU requests %s exceed the budget %s", s.name, s.r.reqCPU.String(), c.cpu.String())
				}
				if s.r.reqMem.Cmp(c.mem) > 0 {
					t.Errorf("%s: memory requests %dMi exceed the budget %dMi", s.name, s.r.reqMem.Value()>>20, c.mem.Value()>>20)
				}
			}
			for _, r := range rows {
				if r.res.limCPU.IsZero() || r.res.limMem.IsZero() {
					t.Errorf("%s has no limits", r.component)
				}
				if r.res.limMem.Cmp(r.res.reqMem) < 0 || r.res.limCPU.Cmp(r.res.reqCPU) < 0 {
					t.Errorf("%s: limits below requests", r.component)
				}
			}
		})
	}
}

// The proxy stats matcher (istio/values.yaml, meshConfig.defaultConfig.
// proxyStatsMatcher) brings back Envoy cluster stats for the resilience
// panels and alerts. Each one it includes is a series per outbound cluster
// per proxy in Prometheus, so it costs Prometheus memory: this file checks
// that the regexps include exactly the stats the dashboards and rules need,
// and counts the series they add against the Prometheus budget.

// resilienceStats are the Envoy stats the dashboards and alert rules read,
// by the name Istio's Prometheus endpoint gives them.
var resilienceStats = map[string]string{
	"envoy_cluster_upstream_rq_total":                          "upstream_rq_total",
	"envoy_cluster_upstream_rq_retry":                          "upstream_rq_retry",
	"envoy_cluster_upstream_rq_retry_success":                  "upstream_rq_retry_success",
	"envoy_cluster_upstream_rq_retry_overflow":                 "upstream_rq_retry_overflow",
	"envoy_cluster_upstream_rq_timeout":                        "upstream_rq_timeout",
	"envoy_cluster_upstream_rq_pending_overflow":               "upstream_rq_pending_overflow",
	"envoy_cluster_outlier_detection_ejections_active":         "outlier_detection.ejections_active",
	"envoy_cluster_outlier_detection_ejections_enforced_total": "outlier_detection.ejections_enforced_total",
	"envoy_cluster_circuit_breakers_default_rq_open":           "circuit_breakers.default.rq_open",
	"envoy_cluster_circuit_breakers_default_cx_open":           "circuit_breakers.default.cx_open",
}

// otherClusterStats are Envoy cluster stats the matcher must leave out (a
// sample of the ~100 per cluster: connection counters, per-code counters,
// the other breakers and ejection reasons, the remaining_* gauges).
var otherClusterStats = []string{
	"upstream_cx_total", "upstream_cx_active", "upstream_cx_connect_fail", "upstream_cx_connect_timeout",
	"upstream_cx_destroy_remote", "upstream_rq_active", "upstream_rq_pending_total", "upstream_rq_pending_active",
	"upstream_rq_completed", "upstream_rq_200", "upstream_rq_2xx", "upstream_rq_503", "upstream_rq_5xx",
	"upstream_rq_retry_limit_exceeded", "upstream_rq_retry_backoff_exponential", "upstream_rq_per_try_timeout",
	"upstream_rq_rx_reset", "upstream_rq_tx_reset", "upstream_rq_cancelled", "upstream_rq_maintenance_mode",
	"upstream_rq_total_x", "x_upstream_rq_total",
	"outlier_detection.ejections_overflow", "outlier_detection.ejections_enforced_consecutive_5xx",
	"outlier_detection.ejections_detected_consecutive_5xx", "outlier_detection.ejections_total",
	"circuit_breakers.default.rq_pending_open", "circuit_breakers.default.rq_retry_open",
	"circuit_breakers.default.cx_pool_open", "circuit_breakers.default.remaining_rq",
	"circuit_breakers.default.remaining_retries", "circuit_breakers.high.rq_open", "circuit_breakers.high.cx_open",
	"membership_healthy", "membership_total", "lb_healthy_panic", "update_success", "bind_errors",
}

// Clusters the matcher must leave out whatever the stat.
var otherClusters = []string{
	"inbound|8080||", "inbound|15090||", "BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster",
	"xds-grpc", "prometheus_stats", "agent", "sds-grpc", "zipkin",
}

func statsMatcher(t testing.TB) []*regexp.Regexp {
	t.Helper()
	var iop map[string]any
	readYAMLFile(t, istioValues, &iop)
	list, ok, _ := unstructured.NestedStringSlice(iop, "spec", "meshConfig", "defaultConfig", "proxyStatsMatcher", "inclusionRegexps")
	if !ok || len(list) == 0 {
		t.Fatalf("%s: no meshConfig.defaultConfig.proxyStatsMatcher.inclusionRegexps", istioValues)
	}
	var out []*regexp.Regexp
	for _, s := range list {
		// Envoy matches a stats matcher's safe_regex (RE2, as Go's regexp)
		// against the whole stat name.
		re, err := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil {
			t.Fatalf("%s: inclusion regexp %q: %v", istioValues, s, err)
		}
		out = append(out, re)
	}
	return out
}

func included(res []*regexp.Regexp, stat string) bool {
	for _, re := range res {
		if re.MatchString(stat) {
			return true
		}
	}
	return false
}

// TestStatsMatcherSelectsTheResilienceStats: every stat the dashboards and
// rules read is included for outbound clusters (plain and subset ones), and
// nothing else: not the other cluster stats, not inbound or internal clusters.
func TestStatsMatcherSelectsTheResilienceStats(t *testing.T) {
	res := statsMatcher(t)
	outbound := []string{"outbound|8080||api.shop.svc.cluster.local", "outbound|80|primary|web.other-ns.svc.cluster.local", "outbound|443||kubernetes.default.svc.cluster.local"}
	for _, c := range outbound {
		for metric, stat := range resilienceStats {
			if name := "cluster." + c + "." + stat; !included(res, name) {
				t.Errorf("%s (for %s) is not included", name, metric)
			}
		}
		for _, stat := range otherClusterStats {
			if name := "cluster." + c + "." + stat; included(res, name) {
				t.Errorf("%s is included: a series per cluster and proxy nobody reads", name)
			}
		}
	}
	for _, c := range otherClusters {
		for _, stat := range resilienceStats {
			if name := "cluster." + c + "." + stat; included(res, name) {
				t.Errorf("%s is included: only outbound clusters are wanted", name)
			}
		}
	}
	for _, s := range []string{"server.memory_allocated", "listener.0.0.0.0_15006.downstream_cx_total", "http.inbound_0.0.0.0_8080.downstream_rq_total"} {
		if included(res, s) {
			t.Errorf("%s is included", s)
		}
	}
}

// istioServices are the Services istioctl creates (not rendered here), with
// their ports: istiod and the ingress gateway of the minimal profile plus
// the gateway, and the API server's and k3s' CoreDNS Services (UDP ports
// give Envoy no cluster).
var istioServices = map[string][]int64{
	"istio-system/istiod":               {15010, 15012, 443, 15014},
	"istio-system/istio-ingressgateway": {15021, 80, 443},
	"default/kubernetes":                {443},
	"kube-system/kube-dns":              {53, 9153},
}

// meshService is one Service a proxy may get clusters for.
type meshService struct {
	ns, name string
	ports    int
}

// proxyScope is what a proxy's Sidecar resource lets it see (nil: all).
func proxyScope(objs []*unstructured.Unstructured, ns string, podLabels map[string]string) []string {
	var nsDefault []string
	found := false
	for _, o := range objs {
		if o.GetKind() != "Sidecar" || o.GetNamespace() != ns {
			continue
		}
		var hosts []string
		eg, _, _ := unstructured.NestedSlice(o.Object, "spec", "egress")
		for _, e := range eg {
			hs, _, _ := unstructured.NestedStringSlice(e.(map[string]any), "hosts")
			hosts = append(hosts, hs...)
		}
		sel, hasSel, _ := unstructured.NestedStringMap(o.Object, "spec", "workloadSelector", "labels")
		if !hasSel {
			nsDefault, found = hosts, true
			continue
		}
		matches := true
		for k, v := range sel {
			if podLabels[k] != v {
				matches = false
			}
		}
		if matches {
			return hosts
		}
	}
	if found {
		return nsDefault
	}
	return nil
}

// inScope reports whether a Sidecar's egress hosts (ns/dnsName) include
// the service.
func inScope(hosts []string, proxyNS string, s meshService) bool {
	if hosts == nil {
		return true
	}
	fq := s.name + "." + s.ns + ".svc.cluster.local"
	for _, h := range hosts {
		ns, dns, _ := strings.Cut(h, "/")
		if ns == "." {
			ns = proxyNS
		}
		if ns != "*" && ns != s.ns {
			continue
		}
		if dns == "*" || dns == fq || (strings.HasPrefix(dns, "*.") && strings.HasSuffix(fq, dns[1:])) {
			return true
		}
	}
	return false
}

// TestStatsMatcherSeriesCost counts the series the proxy stats matcher adds
// to Prometheus: for every proxy (each sidecar-injected pod, the canary
// analysis' extra pod, the ingress gateway), one cluster per port of every
// Service its Sidecar resource lets it see (Flagger's canary Services and
// DestinationRule subsets included), times the included stats. The cost
// must fit a tenth of Prometheus' memory request, at 8 KiB per active series
// (a conservative figure for Prometheus' head: the series, its index entry
// and two hours of 15 s samples, with churn from pod restarts).
func TestStatsMatcherSeriesCost(t *testing.T) {
	const bytesPerSeries = 8 << 10
	objs := render(t, overlays[0])
	res := statsMatcher(t)
	stats := 0
	for _, stat := range resilienceStats {
		if included(res, "cluster.outbound|8080||x.y.svc.cluster.local."+stat) {
			stats++
		}
	}

	// The Services of the mesh: ours, istioctl's, and Flagger's three per
	// canary (apex, primary, canary).
	var services []meshService
	for _, o := range objs {
		switch o.GetKind() {
		case "Service":
			ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
			services = append(services, meshService{o.GetNamespace(), o.GetName(), len(ports)})
		case "Canary":
			name, _, _ := unstructured.NestedString(o.Object, "spec", "targetRef", "name")
			for _, n := range []string{name, name + "-primary", name + "-canary"} {
				services = append(services, meshService{o.GetNamespace(), n, 1})
			}
		}
	}
	for k, ports := range istioServices {
		ns, name, _ := strings.Cut(k, "/")
		services = append(services, meshService{ns, name, len(ports)})
	}
	// Subsets add a cluster per port and subset.
	subsets := map[string]int{}
	for _, o := range objs {
		if o.GetKind() == "DestinationRule" {
			host, _, _ := unstructured.NestedString(o.Object, "spec", "host")
			ss, _, _ := unstructured.NestedSlice(o.Object, "spec", "subsets")
			subsets[fqdn(host, o.GetNamespace())] += len(ss)
		}
	}
	clustersFor := func(hosts []string, ns string) int {
		n := 0
		for _, s := range services {
			if inScope(hosts, ns, s) {
				n += s.ports * (1 + subsets[s.name+"."+s.ns+".svc.cluster.local"])
			}
		}
		return n
	}

	type proxyRow struct {
		name           string
		pods, clusters int
	}
	var rows []proxyRow
	targets := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Canary" {
			name, _, _ := unstructured.NestedString(o.Object, "spec", "targetRef", "name")
			targets[o.GetNamespace()+"/"+name] = true
		}
	}
	for _, o := range objs {
		_, tmpl := podSpec(o)
		if tmpl == nil || !injected(o, tmpl, objs) {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "labels")
		pods := 1
		if r, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
			pods = int(r)
		}
		name := objKey(o)
		if targets[o.GetNamespace()+"/"+o.GetName()] {
			pods = 2 // the primary, and the canary during an analysis
			name += " (primary + canary)"
		}
		rows = append(rows, proxyRow{name, pods, clustersFor(proxyScope(objs, o.GetNamespace(), labels), o.GetNamespace())})
	}
	rows = append(rows, proxyRow{"istio-system/istio-ingressgateway (no Sidecar scope)", 1, clustersFor(nil, "istio-system")})
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })

	var b strings.Builder
	total := 0
	fmt.Fprintf(&b, "%-58s %4s %8s %7s\n", "proxy", "pods", "clusters", "series")
	for _, r := range rows {
		n := r.pods * r.clusters * stats
		total += n
		fmt.Fprintf(&b, "%-58s %4d %8d %7d\n", r.name, r.pods, r.clusters, n)
	}
	prom := find(t, objs, "Deployment", "monitoring", "prometheus")
	var promReq int64
	if spec, _ := podSpec(prom); spec != nil {
		for _, c := range containers(spec) {
			if c.name == "prometheus" {
				q := containerResources(t, c.m).reqMem
				promReq = q.Value()
			}
		}
	}
	if promReq == 0 {
		t.Fatal("no memory request of the prometheus container")
	}
	cost := int64(total) * bytesPerSeries
	fmt.Fprintf(&b, "%d stats per cluster; %d series ≈ %.1f MiB of Prometheus memory at %d KiB per series (request %d MiB)",
		stats, total, float64(cost)/(1<<20), bytesPerSeries>>10, promReq>>20)
	t.Logf("series the proxy stats matcher adds:\n%s", b.String())
	if stats != len(resilienceStats) {
		t.Errorf("%d of the %d resilience stats included", stats, len(resilienceStats))
	}
	if cost > promReq/10 {
		t.Errorf("the proxy stats matcher adds %d series (%.1f MiB), more than a tenth of Prometheus' %d MiB request: narrow the regexps or the Sidecar scopes",
			total, float64(cost)/(1<<20), promReq>>20)
	}
}
