package simulator

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// The scenarios that vary what detectors could overfit to (issue 19):
// another namespace and names, the canary on another service, two faults
// at once, a leaf fault its callers feel; and a control run on that mesh.
var otherMeshScenarios = []string{"books-healthy", "books-crashloop", "canary-on-checkout", "leaf-dependency-errors", "two-faults"}

func TestOtherMeshScenariosTruth(t *testing.T) {
	want := map[string][]Fault{
		"books-healthy":   nil,
		"books-crashloop": {{Workload: "reviews", Namespace: "books", Container: "reviews", CauseClass: "crashloop"}},
		"canary-on-checkout": {{Workload: "checkout", Namespace: "books", Version: "v2", CauseClass: "error-regression",
			Onset: Duration(3 * time.Hour), OnsetDelay: Duration(200 * time.Second)}},
		"leaf-dependency-errors": {{Workload: "search-index", Namespace: "books", Container: "opensearch", CauseClass: "upstream-dependency"}},
		"two-faults": {{Workload: "geo", Namespace: "data", Container: "istio-proxy", CauseClass: "sidecar-memory-leak"},
			{Workload: "fares", Namespace: "trips", Container: "fares", CauseClass: "app-memory-oom"}},
	}
	for _, name := range otherMeshScenarios {
		s, err := LookupScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Topology == nil || s.TopologyName() == "shop" {
			t.Errorf("%s runs on the shop", name)
		}
		got := s.Truth.Faults()
		if len(got) != len(want[name]) {
			t.Fatalf("%s: %d faults, want %d: %+v", name, len(got), len(want[name]), got)
		}
		m, _ := s.Mesh()
		for i, f := range got {
			if !slices.Contains(CauseClasses, f.CauseClass) {
				t.Errorf("%s: cause class %q is not in the vocabulary", name, f.CauseClass)
			}
			if len(f.Affected) == 0 || f.Affected[0] != f.Workload || f.Detail == "" {
				t.Errorf("%s: fault %d: affected %v should start with the root %s; detail %q", name, i, f.Affected, f.Workload, f.Detail)
			}
			for _, a := range f.Affected {
				if w := m.Workload(a); w == nil || strings.HasPrefix(w.Namespace, "shop") {
					t.Errorf("%s: affected %s is not a workload of its mesh", name, a)
				}
			}
			f.Affected, f.Detail = nil, ""
			if !equalFault(f, want[name][i]) {
				t.Errorf("%s: fault %d\n got %+v\nwant %+v", name, i, f, want[name][i])
			}
		}
	}
	// On the run's clock: each fault's onset, the first effect on its workload.
	e := run(t, "two-faults")
	gt := e.Truth()
	fs := gt.Faults()
	if gt.Topology != "travel" || len(fs) != 2 || fs[0].Onset == nil || fs[1].Onset == nil {
		t.Fatalf("truth %+v", gt)
	}
	// 1h30m and 2h30m of 6h, on a 2h run: +30m and +50m.
	if !fs[0].Onset.Equal(gt.Start.Add(30*time.Minute)) || !fs[1].Onset.Equal(gt.Start.Add(50*time.Minute)) {
		t.Errorf("onsets %s %s (start %s)", fs[0].Onset, fs[1].Onset, gt.Start)
	}
	b, _ := json.Marshal(gt)
	var back GroundTruth
	if err := json.Unmarshal(b, &back); err != nil || len(back.Faults()) != 2 || back.Additional[0].Workload != "fares" {
		t.Errorf("truth.json round trip: %v %s", err, b)
	}
	if len(run(t, "healthy").Truth().Faults()) != 0 || len(run(t, "books-healthy").Truth().Faults()) != 0 {
		t.Error("a control run has no faults")
	}
}

func equalFault(a, b Fault) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestTopologyRefParses(t *testing.T) {
	named, err := ParseScenario([]byte("name: x\ndescription: d\nduration: 1h\ntopology: bookstore\ntruth: {causeClass: crashloop, workload: ratings}\neffects: [{kind: restart, target: ratings, at: 10m, reason: Error}]"))
	if err != nil {
		t.Fatal(err)
	}
	if named.Truth.Namespace != "books" || named.TopologyName() != "bookstore" {
		t.Errorf("namespace %q filled from the mesh, topology %q", named.Truth.Namespace, named.TopologyName())
	}
	declared, err := ParseScenario([]byte(`name: x
description: d
duration: 1h
topology:
  namespace: lab
  canary: api
  services:
    - {name: web, calls: [api, {service: cache, prob: 0.3}]}
    - {name: api, namespace: backend, calls: [db]}
    - {name: db, namespace: backend, kind: StatefulSet, protocol: tcp}
    - {name: cache, latencyMs: 1}
truth: {causeClass: latency-regression, workload: cache, namespace: lab}
effects: [{kind: latency, target: cache, at: 10m, magnitude: 300}]`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := declared.Mesh()
	if err != nil {
		t.Fatal(err)
	}
	if declared.TopologyName() != "x" || m.Entry != "web" || !slices.Equal(m.Namespaces, []string{"lab", "backend"}) || m.Host != "lab.homelab.lan" {
		t.Errorf("mesh %s entry %s namespaces %v host %s", declared.TopologyName(), m.Entry, m.Namespaces, m.Host)
	}
	// web → api (→ db over TCP), web → cache 30 % of the time.
	if len(m.Routes) != 1 || len(m.Routes[0].Calls) != 2 {
		t.Fatalf("routes %+v", m.Routes)
	}
	api, cache := m.Routes[0].Calls[0], m.Routes[0].Calls[1]
	if api.Service != "api" || api.Method != "GET" || api.Path != "/api" || api.Prob != 1 || len(api.Calls) != 1 || !api.Calls[0].TCP {
		t.Errorf("web → api: %+v", api)
	}
	if cache.Prob != 0.3 || cache.Calls != nil {
		t.Errorf("web → cache: %+v", cache)
	}
	for _, name := range []string{"api-primary", "api", "flagger-loadtester", "istio-ingressgateway", "istiod", "flagger"} {
		if m.Workload(name) == nil {
			t.Errorf("no workload %s", name)
		}
	}
	if w := m.Workload("api"); !w.CanaryTarget || w.Service != "api-canary" || w.Namespace != "backend" {
		t.Errorf("canary target %+v", w)
	}
	if lt := m.Workload(loadTesterName); lt.Namespace != "backend" {
		t.Errorf("the load tester runs in %s, want the canary's namespace", lt.Namespace)
	}
	if m.CanaryLoad.Path != "/api" || m.Service("api").Name != "api" || m.Service("api-primary").Name != "api-primary" {
		t.Errorf("canary load %+v", m.CanaryLoad)
	}
	// A scenario's topology survives a JSON round trip (name or spec).
	for _, s := range []*Scenario{named, declared} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Scenario
		if err := json.Unmarshal(b, &back); err != nil || back.TopologyName() != s.TopologyName() {
			t.Errorf("round trip %s: %v", b, err)
		}
	}
}

func TestTopologyRejectsBadMeshes(t *testing.T) {
	scenario := func(topology, truth, effect string) string {
		return "name: x\ndescription: d\nduration: 1h\ntopology: " + topology + "\ntruth: " + truth + "\neffects: [" + effect + "]"
	}
	ok := "{causeClass: none}"
	for name, y := range map[string]string{
		"unknown named":        scenario("nowhere", ok, ""),
		"unknown field":        scenario("{namespace: a, services: [{name: web}], colour: red}", ok, ""),
		"unknown call field":   scenario("{namespace: a, services: [{name: web, calls: [{service: web2, colour: red}]}, {name: web2}]}", ok, ""),
		"no services":          scenario("{namespace: a, services: []}", ok, ""),
		"bad namespace":        scenario("{namespace: A_B, services: [{name: web}]}", ok, ""),
		"duplicate service":    scenario("{namespace: a, services: [{name: web}, {name: web, namespace: b}]}", ok, ""),
		"reserved name":        scenario("{namespace: a, services: [{name: istiod}]}", ok, ""),
		"flagger's naming":     scenario("{namespace: a, services: [{name: web-primary}]}", ok, ""),
		"unknown callee":       scenario("{namespace: a, services: [{name: web, calls: [nope]}]}", ok, ""),
		"cycle":                scenario("{namespace: a, services: [{name: web, calls: [api]}, {name: api, calls: [web]}]}", ok, ""),
		"tcp entry":            scenario("{namespace: a, services: [{name: db, protocol: tcp}]}", ok, ""),
		"tcp caller":           scenario("{namespace: a, services: [{name: web, calls: [db]}, {name: db, protocol: tcp, calls: [web]}]}", ok, ""),
		"statefulset canary":   scenario("{namespace: a, canary: web, services: [{name: web, kind: StatefulSet}]}", ok, ""),
		"bad kind":             scenario("{namespace: a, services: [{name: web, kind: DaemonSet}]}", ok, ""),
		"policy without call":  scenario("{namespace: a, services: [{name: web, policies: {api: {timeoutMs: 5}}}, {name: api}]}", ok, ""),
		"limit below use":      scenario("{namespace: a, services: [{name: web, memoryMi: 300}]}", ok, "") + "\n",
		"truth elsewhere":      scenario("{namespace: a, services: [{name: web}]}", "{causeClass: crashloop, workload: web, namespace: shop}", "{kind: restart, target: web, at: 1m, reason: Error}"),
		"truth not in mesh":    scenario("bookstore", "{causeClass: crashloop, workload: orders, namespace: shop}", "{kind: restart, target: reviews, at: 1m, reason: Error}"),
		"effect not in mesh":   scenario("bookstore", "{causeClass: crashloop, workload: reviews}", "{kind: restart, target: orders, at: 1m, reason: Error}"),
		"class not in vocab":   scenario("bookstore", "{causeClass: gremlins, workload: reviews}", "{kind: restart, target: reviews, at: 1m, reason: Error}"),
		"additional legacy":    scenario("bookstore", "{causeClass: crashloop, workload: reviews, additional: [{workload: cart, causeClass: latency}]}", "{kind: restart, target: reviews, at: 1m, reason: Error}"),
		"additional on none":   scenario("bookstore", "{causeClass: none, additional: [{workload: cart, causeClass: crashloop}]}", ""),
		"canary not a target":  scenario("bookstore", "{causeClass: error-regression, workload: cart}", "{kind: canary-progression, target: cart, at: 1m}"),
		"out-of-mesh is entry": scenario("{namespace: a, services: [{name: cron, outOfMesh: true}, {name: web}]}", ok, ""),
	} {
		if _, err := ParseScenario([]byte(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBuiltinTopologies(t *testing.T) {
	if names := TopologyNames(); !slices.Equal(names, []string{"shop", "bookstore"}) {
		t.Errorf("topologies %v", names)
	}
	if _, err := TopologyMesh("nowhere"); err == nil || !strings.Contains(err.Error(), "bookstore") {
		t.Errorf("unknown topology error should list the valid ones: %v", err)
	}
	m, err := TopologyMesh("bookstore")
	if err != nil {
		t.Fatal(err)
	}
	// Every workload a bookstore request reaches, and how deep.
	depth := map[string]int{}
	var walk func(calls []Call, d int)
	walk = func(calls []Call, d int) {
		for _, c := range calls {
			depth[c.Service] = max(depth[c.Service], d)
			walk(c.Calls, d+1)
		}
	}
	for _, r := range m.Routes {
		walk(r.Calls, 2)
	}
	if depth["ratings-db"] != 5 || depth["search-index"] != 3 || depth["billing"] != 3 {
		t.Errorf("call depths %v", depth)
	}
	for _, w := range m.Workloads {
		if strings.Contains(w.Name, "shop") || w.Namespace == ShopNamespace || slices.Contains([]string{"frontend", "api", "orders", "inventory", "payments"}, w.Name) {
			t.Errorf("bookstore reuses the shop's %s/%s", w.Namespace, w.Name)
		}
	}
	// Building twice gives independent meshes (a run changes versions).
	m2, _ := TopologyMesh("bookstore")
	m2.Workload("checkout-primary").Version = "v9"
	if m.Workload("checkout-primary").Version != "v1" {
		t.Error("built meshes share workloads")
	}
}

// TestOtherMeshesLookReal checks the telemetry of the other meshes the way
// TestLabelSetsMatchTheReference checks the shop's: the same label sets,
// Kubernetes' pod names (which the alert rules' workload pattern reads
// back), mTLS at the destination reporter, services in their namespaces.
func TestOtherMeshesLookReal(t *testing.T) {
	ref := labelNames(t, run(t, "healthy"), "istio_requests_total", nil)
	deploymentPod := regexp.MustCompile(`^(.+)-[` + signals.SafeAlphabet + `]{1,10}-[` + signals.SafeAlphabet + `]{5}$`)
	for _, name := range []string{"books-healthy", "two-faults"} {
		e := run(t, name)
		if got := labelNames(t, e, "istio_requests_total", nil); !slices.Equal(got, ref) {
			t.Errorf("%s: istio_requests_total labels %v", name, got)
		}
		sawSTS := false
		for _, p := range e.pods {
			w := p.w
			if w.statefulSet() {
				sawSTS = true
				if p.name != w.Name+"-0" {
					t.Errorf("%s: StatefulSet pod %s", name, p.name)
				}
			} else if m := deploymentPod.FindStringSubmatch(p.name); m == nil || m[1] != w.Name {
				t.Errorf("%s: Deployment pod %s of %s", name, p.name, w.Name)
			}
			if got := signals.WorkloadOf(p.name); got != w.Name {
				t.Errorf("%s: the rules read workload %q from pod %s of %s", name, got, p.name, w.Name)
			}
		}
		if !sawSTS {
			t.Errorf("%s: no StatefulSet", name)
		}
		for _, r := range series(t, e, "istio_requests_total", nil) {
			want := map[string]string{"destination": "mutual_tls", "source": "unknown"}[r.labels["reporter"]]
			if r.labels["connection_security_policy"] != want {
				t.Errorf("%s: reporter %s with policy %s", name, r.labels["reporter"], r.labels["connection_security_policy"])
			}
			if w := e.mesh.Service(r.labels["destination_service_name"]); w == nil || r.labels["destination_service_namespace"] != w.Namespace ||
				r.labels["destination_service"] != hostOf(r.labels["destination_service_name"], w.Namespace) {
				t.Errorf("%s: destination service labels %v", name, r.labels)
			}
			for _, k := range []string{"source_workload_namespace", "destination_workload_namespace", "namespace"} {
				if r.labels[k] == ShopNamespace {
					t.Errorf("%s: %s=shop in %v", name, k, r.labels)
				}
			}
		}
		// Every series a real scrape produces carries job, instance, namespace and pod.
		for _, f := range e.reg.families {
			for _, m := range f.metrics {
				if len(m.ticks) == 0 {
					continue
				}
				ls, _ := parseLabels(m.labels)
				for _, k := range []string{"job", "instance", "namespace", "pod"} {
					if ls[k] == "" {
						t.Fatalf("%s: %s{%s} lacks %s", name, f.name, m.labels, k)
					}
				}
			}
		}
	}
	// Cross-namespace calls: portal (edge) → flights (trips), hotels → geo (data).
	e := run(t, "two-faults")
	edges := map[string]bool{}
	for _, r := range series(t, e, "istio_requests_total", map[string]string{"reporter": "source"}) {
		edges[r.labels["source_workload_namespace"]+"/"+r.labels["source_workload"]+">"+r.labels["destination_workload_namespace"]+"/"+r.labels["destination_workload"]] = true
	}
	for _, want := range []string{"istio-system/istio-ingressgateway>edge/portal", "edge/portal>trips/flights", "trips/hotels>data/geo", "trips/flights>trips/fares", "trips/itinerary>trips/hotels"} {
		if !edges[want] {
			t.Errorf("no edge %s in %v", want, edges)
		}
	}
	if len(series(t, e, "istio_tcp_sent_bytes_total", map[string]string{"source_workload": "itinerary", "destination_workload": "trips-db", "destination_service_namespace": "data"})) == 0 {
		t.Error("no itinerary → trips-db TCP series")
	}
	if len(series(t, e, "flagger_canary_status", nil)) != 0 || len(series(t, e, "flagger_info", nil)) != 1 {
		t.Error("a mesh without canary has flagger_info and no flagger_canary_*")
	}
}

func TestCanaryOnAnotherService(t *testing.T) {
	e := run(t, "canary-on-checkout")
	st := e.CanaryStatus()
	if st.Phase != PhaseFailed || st.FailedChecks != PaymentsAnalysis.Threshold {
		t.Errorf("end status %+v", st)
	}
	var weights []float64
	for _, r := range series(t, e, "flagger_canary_weight", map[string]string{"workload": "checkout", "namespace": "books"}) {
		for _, v := range r.vals {
			if len(weights) == 0 || weights[len(weights)-1] != v {
				weights = append(weights, v)
			}
		}
	}
	if !slices.Equal(weights, []float64{0, 10, 25, 50, 0}) {
		t.Errorf("checkout canary weight steps %v, want 0 10 25 50 0", weights)
	}
	if rs := series(t, e, "flagger_canary_status", map[string]string{"name": "checkout", "namespace": "books"}); len(rs) != 1 || slices.Max(rs[0].vals) != 2 {
		t.Error("flagger_canary_status of checkout.books does not show the rollback")
	}
	// The canary's 500s against its primary, at the destination reporter.
	canary := series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "checkout", "destination_version": "v2", "response_code": "500"})
	primary := series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "checkout-primary", "response_code": "~5.."})
	if len(canary) == 0 || len(primary) != 0 {
		t.Errorf("%d canary 500 series, %d primary 5xx series", len(canary), len(primary))
	}
	// The load tester drives the canary's service in books.
	if len(series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": loadTesterName, "source_workload_namespace": "books", "destination_service_name": "checkout-canary"})) == 0 {
		t.Error("flagger-loadtester does not call checkout-canary")
	}
	var gotCanary Object
	for _, o := range e.Objects() {
		if o["kind"] == "Canary" {
			gotCanary = o
		}
	}
	if gotCanary == nil {
		t.Fatal("no Canary object")
	}
	b, _ := json.Marshal(gotCanary)
	for _, want := range []string{`"name":"checkout"`, `"namespace":"books"`, `http://flagger-loadtester.books/`, `http://checkout-canary.books:8080/api/checkout`, `"phase":"Failed"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Canary lacks %s: %s", want, b)
		}
	}
	if err := e.DeleteCanary("payments", "shop"); err == nil || !strings.Contains(err.Error(), "checkout.books") {
		t.Errorf("deleting the shop's canary on the bookstore: %v", err)
	}
	if err := run(t, "two-faults").DeleteCanary("payments", "shop"); err == nil {
		t.Error("a mesh without canary deleted one")
	}
}

func TestOtherMeshFaultsShowWhereTheyAre(t *testing.T) {
	ratio := func(e *Engine, workload string) float64 {
		m := map[string]string{"reporter": "destination", "destination_workload": workload}
		den := series(t, e, "istio_requests_total", m)
		m["response_code"] = "~5.."
		return maxRatio(e, series(t, e, "istio_requests_total", m), den, w5m, 20)
	}
	// The leaf fails; its callers, unchanged, fail with it; siblings do not.
	e := run(t, "leaf-dependency-errors")
	for w, want := range map[string]bool{"search-index": true, "catalog": true, "storefront": true, "reviews": false, "cart": false, "checkout-primary": false} {
		if r := ratio(e, w); (r > 0.01) != want {
			t.Errorf("leaf-dependency-errors: %s max 5xx ratio %s", w, formatPct(r))
		}
	}
	// The crash-looping reviews: catalog sees 503 UH at its source reporter.
	e = run(t, "books-crashloop")
	if len(series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": "catalog", "destination_service_name": "reviews", "response_code": "503", "response_flags": "UH"})) == 0 {
		t.Error("books-crashloop: no catalog → reviews 503 UH")
	}
	if rs := series(t, e, "kube_pod_container_status_waiting_reason", map[string]string{"namespace": "books", "reason": "CrashLoopBackOff", "container": "reviews"}); len(rs) != 1 {
		t.Error("books-crashloop: reviews never waits in CrashLoopBackOff")
	}
	// Two faults: the sidecar of geo-0 grows; fares is OOM-killed; nothing else restarts.
	e = run(t, "two-faults")
	if rs := series(t, e, "kube_pod_container_status_last_terminated_reason", map[string]string{"reason": "OOMKilled"}); len(rs) != 1 || rs[0].labels["namespace"] != "trips" || signals.WorkloadOf(rs[0].labels["pod"]) != "fares" {
		t.Errorf("OOM kills %v", rs)
	}
	for _, r := range series(t, e, "kube_pod_container_status_restarts_total", nil) {
		if r.last() > 0 && signals.WorkloadOf(r.labels["pod"]) != "fares" {
			t.Errorf("unexpected restarts of %s/%s", r.labels["pod"], r.labels["container"])
		}
	}
	rs := series(t, e, "container_memory_working_set_bytes", map[string]string{"namespace": "data", "pod": "geo-0", "container": "istio-proxy"})
	if len(rs) != 1 || rs[0].last() < 0.6*ProxyMemLimit || rs[0].vals[0] > 0.3*ProxyMemLimit {
		t.Errorf("geo-0 sidecar working set %v", rs)
	}
	// Logs name the fault where it is, in its namespace.
	for scenario, c := range map[string]struct {
		labels StreamLabels
		text   string
	}{
		"books-crashloop":        {StreamLabels{Namespace: "books", App: "reviews", Container: "reviews", Level: "error"}, "invalid REVIEWS_PAGE_SIZE"},
		"leaf-dependency-errors": {StreamLabels{Namespace: "books", App: "catalog", Container: "catalog", Level: "error"}, "upstream search-index returned 500"},
		"canary-on-checkout":     {StreamLabels{Namespace: "books", App: "checkout", Container: "checkout", Level: "error"}, `column \"gift_wrap\"`},
		"two-faults":             {StreamLabels{Namespace: "trips", App: "flights", Container: "flights", Level: "error"}, "upstream fares returned 503 (UH"},
	} {
		found := false
		for _, l := range run(t, scenario).logsSnapshot() {
			got := l.Labels
			got.Pod = ""
			if got == c.labels && strings.Contains(l.Line, c.text) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no %+v line containing %q", scenario, c.labels, c.text)
		}
	}
	for _, l := range run(t, "books-healthy").logsSnapshot() {
		if l.Labels.Level == "error" {
			t.Fatalf("books-healthy logged an error: %s", l.Line)
		}
	}
}

func TestOtherMeshObjects(t *testing.T) {
	for _, name := range []string{"books-crashloop", "two-faults"} {
		objs := run(t, name).Objects()
		kinds := map[string][]string{}
		for _, o := range objs {
			runtime.DeepCopyJSON(o)
			md := o["metadata"].(map[string]any)
			ns, _ := md["namespace"].(string)
			kinds[o["kind"].(string)] = append(kinds[o["kind"].(string)], strings.TrimPrefix(ns+"/"+md["name"].(string), "/"))
		}
		for k := range kinds {
			sort.Strings(kinds[k])
		}
		wantNS := map[string][]string{"books-crashloop": {"books", "istio-system"}, "two-faults": {"data", "edge", "istio-system", "trips"}}[name]
		if !slices.Equal(kinds["Namespace"], wantNS) {
			t.Errorf("%s: namespaces %v", name, kinds["Namespace"])
		}
		wantSTS := map[string][]string{"books-crashloop": {"books/ratings-db", "books/search-index"}, "two-faults": {"data/geo", "data/trips-db"}}[name]
		if !slices.Equal(kinds["StatefulSet"], wantSTS) {
			t.Errorf("%s: StatefulSets %v", name, kinds["StatefulSet"])
		}
		for _, ns := range wantNS[:len(wantNS)-1] {
			if ns != "istio-system" && !slices.Contains(kinds["PeerAuthentication"], ns+"/default") {
				t.Errorf("%s: no STRICT default PeerAuthentication in %s: %v", name, ns, kinds["PeerAuthentication"])
			}
		}
		scheme := runtime.NewScheme()
		gvrs := map[schema.GroupVersionResource]string{}
		for _, o := range objs {
			gvr, _, err := ResourceFor(o["apiVersion"].(string), o["kind"].(string))
			if err != nil {
				t.Fatal(err)
			}
			gvrs[gvr] = o["kind"].(string) + "List"
		}
		dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, gvrs)
		if err := ApplyObjects(context.Background(), dyn, objs, false); err != nil {
			t.Fatal(err)
		}
		if name != "books-crashloop" {
			continue
		}
		pod, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("books").Get(context.Background(), "ratings-db-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l := pod.GetLabels(); l["statefulset.kubernetes.io/pod-name"] != "ratings-db-0" || l["apps.kubernetes.io/pod-index"] != "0" || !strings.HasPrefix(l["controller-revision-hash"], "ratings-db-") {
			t.Errorf("ratings-db-0 labels %v", l)
		}
		svc, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace("books").Get(context.Background(), "ratings-db", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP"); ip != "None" {
			t.Errorf("ratings-db service clusterIP %q, want a headless service", ip)
		}
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		if len(ports) != 1 || ports[0].(map[string]any)["name"] != "tcp-mysql" {
			t.Errorf("ratings-db ports %v", ports)
		}
		// The crash-looping reviews pod shows its restarts.
		rv := run(t, name)
		if p := rv.cur[rv.mesh.index("reviews")]; p == nil || p.app.restarts == 0 {
			t.Error("reviews shows no restarts")
		}
	}
}
