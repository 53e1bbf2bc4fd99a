package deploy_test

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The shop's resilience (base/shop/resilience.yaml, the Canary's
// spec.service, the gateway's route; deploy/README.md "Resilience"): every
// service of a sidecar-injected namespace has a circuit breaker and outlier
// ejection, and every route to it a timeout and a bounded retry; for a
// Flagger canary target they sit in the Canary, which Flagger copies into the
// VirtualService and DestinationRules it generates (and nothing of ours
// fights over those names); timeouts nest along the call graph and retries
// of work that reached an application happen at one layer at most.

// resilienceFields are the fields every service's traffic policy sets, by
// where they sit (a Canary cannot carry connectionPool.tcp in Flagger 1.44).
var (
	breakerFields = [][]string{
		{"connectionPool", "http", "http1MaxPendingRequests"},
		{"connectionPool", "http", "http2MaxRequests"},
		{"connectionPool", "http", "maxRetries"},
		{"outlierDetection", "consecutive5xxErrors"},
		{"outlierDetection", "interval"},
		{"outlierDetection", "baseEjectionTime"},
		{"outlierDetection", "maxEjectionPercent"},
	}
	tcpFields   = [][]string{{"connectionPool", "tcp", "maxConnections"}, {"connectionPool", "tcp", "connectTimeout"}}
	retryFields = []string{"attempts", "perTryTimeout", "retryOn"}
)

// connectOnly are the retry conditions of a request that never reached the
// application: retrying them does not repeat its work.
var connectOnly = map[string]bool{"connect-failure": true, "refused-stream": true}

// route is the resilience of the route to one service.
type route struct {
	host     string // FQDN of the service
	from     string // the object that sets it
	timeout  time.Duration
	perTry   time.Duration
	attempts int64
	retryOn  []string
}

// appRetries reports whether the route retries requests that may have
// reached the application.
func (r route) appRetries() bool {
	if r.attempts == 0 {
		return false
	}
	for _, c := range r.retryOn {
		if !connectOnly[c] {
			return true
		}
	}
	return false
}

func fqdn(host, ns string) string {
	if strings.Contains(host, ".") {
		if !strings.HasSuffix(host, ".svc.cluster.local") && strings.Count(host, ".") == 1 {
			return host + ".svc.cluster.local" // svc.ns
		}
		return host
	}
	return host + "." + ns + ".svc.cluster.local"
}

func parseRoute(t *testing.T, from, host string, r map[string]any) route {
	t.Helper()
	out := route{host: host, from: from}
	d, err := time.ParseDuration(fmt.Sprint(r["timeout"]))
	if err != nil || d <= 0 {
		t.Errorf("%s: route to %s: timeout %v", from, host, r["timeout"])
	}
	out.timeout = d
	re, _ := r["retries"].(map[string]any)
	for _, f := range retryFields {
		if re[f] == nil {
			t.Errorf("%s: route to %s: no retries.%s", from, host, f)
		}
	}
	if re == nil {
		return out
	}
	out.attempts = int64(number(re, "attempts"))
	if out.perTry, err = time.ParseDuration(fmt.Sprint(re["perTryTimeout"])); err != nil || out.perTry <= 0 || out.perTry > out.timeout {
		t.Errorf("%s: route to %s: perTryTimeout %v, want within the route's timeout %v", from, host, re["perTryTimeout"], r["timeout"])
	}
	out.retryOn = strings.Split(fmt.Sprint(re["retryOn"]), ",")
	for _, c := range out.retryOn {
		if c == "5xx" || c == "retriable-4xx" || c == "500" {
			t.Errorf("%s: route to %s retries on %s: a retry repeats the application's own error", from, host, c)
		}
	}
	if out.attempts < 1 || out.attempts > 2 {
		t.Errorf("%s: route to %s: %d retries, want 1 or 2", from, host, out.attempts)
	}
	return out
}

func checkPolicy(t *testing.T, from string, tp map[string]any, fields [][]string) {
	t.Helper()
	for _, f := range fields {
		v, ok, _ := unstructured.NestedFieldNoCopy(tp, f...)
		if !ok || v == nil {
			t.Errorf("%s: no trafficPolicy.%s", from, strings.Join(f, "."))
			continue
		}
		if s, isString := v.(string); isString {
			if d, err := time.ParseDuration(s); err != nil || d <= 0 {
				t.Errorf("%s: trafficPolicy.%s = %q, want a duration", from, strings.Join(f, "."), s)
			}
		} else if n := number(tp, f...); n <= 0 {
			t.Errorf("%s: trafficPolicy.%s = %v, want > 0", from, strings.Join(f, "."), v)
		}
	}
	if p := number(tp, "outlierDetection", "maxEjectionPercent"); p > 50 {
		t.Errorf("%s: maxEjectionPercent %v: more than half a pool may be ejected", from, p)
	}
}

// backends returns the services a Deployment calls (podinfo's --backend-url).
func backends(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, a := range containerArgs(t, d) {
		s := fmt.Sprint(a)
		if !strings.HasPrefix(s, "--backend-url=") {
			continue
		}
		u, err := url.Parse(strings.TrimPrefix(s, "--backend-url="))
		if err != nil {
			t.Fatalf("%s: %s: %v", objKey(d), s, err)
		}
		out = append(out, fqdn(u.Hostname(), d.GetNamespace()))
	}
	return out
}

func TestResilience(t *testing.T) {
	objs := render(t, overlays[0])
	meshNS := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetLabels()["istio-injection"] == "enabled" {
			meshNS[o.GetName()] = true
		}
	}
	if len(meshNS) == 0 {
		t.Fatal("no sidecar-injected namespace")
	}

	// The services: ours, and the apex Services Flagger creates for a canary.
	services := map[string]string{} // FQDN → namespace
	canaries := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		switch {
		case !meshNS[o.GetNamespace()]:
		case o.GetKind() == "Service":
			services[fqdn(o.GetName(), o.GetNamespace())] = o.GetNamespace()
		case o.GetKind() == "Canary":
			name, _, _ := unstructured.NestedString(o.Object, "spec", "targetRef", "name")
			h := fqdn(name, o.GetNamespace())
			services[h] = o.GetNamespace()
			canaries[h] = o
		}
	}

	// Flagger owns <target>, <target>-primary and <target>-canary: no
	// VirtualService or DestinationRule of ours may carry those names or
	// hosts, or Flagger and kubectl apply overwrite each other.
	flaggerOwned := map[string]bool{}
	for h, c := range canaries {
		name := strings.SplitN(h, ".", 2)[0]
		for _, n := range []string{name, name + "-primary", name + "-canary"} {
			flaggerOwned[c.GetNamespace()+"/"+n] = true
			flaggerOwned[fqdn(n, c.GetNamespace())] = true
		}
	}

	policies := map[string][]string{} // host → objects with a traffic policy for it
	routes := map[string][]route{}    // host → its routes
	for _, o := range objs {
		switch o.GetKind() {
		case "DestinationRule":
			host, _, _ := unstructured.NestedString(o.Object, "spec", "host")
			h := fqdn(host, o.GetNamespace())
			if flaggerOwned[o.GetNamespace()+"/"+o.GetName()] || flaggerOwned[h] {
				t.Errorf("%s (host %s): Flagger generates this DestinationRule; put the policy in the Canary's spec.service.trafficPolicy", objKey(o), host)
				continue
			}
			tp, _, _ := unstructured.NestedMap(o.Object, "spec", "trafficPolicy")
			checkPolicy(t, objKey(o), tp, append(breakerFields, tcpFields...))
			policies[h] = append(policies[h], objKey(o))
		case "VirtualService":
			if flaggerOwned[o.GetNamespace()+"/"+o.GetName()] {
				t.Errorf("%s: Flagger generates this VirtualService; put timeout and retries in the Canary's spec.service", objKey(o))
				continue
			}
			hs, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hosts")
			for _, h := range hs {
				if flaggerOwned[fqdn(h, o.GetNamespace())] {
					t.Errorf("%s: routes %s, which Flagger's VirtualService routes", objKey(o), h)
				}
			}
			https, _, _ := unstructured.NestedSlice(o.Object, "spec", "http")
			for _, hr := range https {
				r := hr.(map[string]any)
				dests, _ := r["route"].([]any)
				for _, d := range dests {
					host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
					h := fqdn(host, o.GetNamespace())
					routes[h] = append(routes[h], parseRoute(t, objKey(o), h, r))
				}
			}
		}
	}
	for h, c := range canaries {
		svc, _, _ := unstructured.NestedMap(c.Object, "spec", "service")
		tp, _ := svc["trafficPolicy"].(map[string]any)
		checkPolicy(t, objKey(c), tp, breakerFields)
		policies[h] = append(policies[h], objKey(c))
		routes[h] = append(routes[h], parseRoute(t, objKey(c), h, svc))
	}

	var hosts []string
	for h := range services {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		if n := len(policies[h]); n != 1 {
			t.Errorf("%s: %d traffic policies (%v), want exactly one with a circuit breaker and outlier ejection", h, n, policies[h])
		}
		if len(routes[h]) == 0 {
			t.Errorf("%s: no route with a timeout and retries", h)
		}
		t.Logf("%-45s policy %-38s routes %d", h, strings.Join(policies[h], ","), len(routes[h]))
	}

	// The call graph: callee's route timeouts below the caller's own, and
	// application-level retries at one layer at most on every path.
	callees := map[string][]string{} // caller host → callee hosts
	for _, o := range objs {
		if o.GetKind() != "Deployment" || !meshNS[o.GetNamespace()] {
			continue
		}
		if b := backends(t, o); len(b) > 0 {
			callees[fqdn(o.GetName(), o.GetNamespace())] = b
		}
	}
	if len(callees) == 0 {
		t.Fatal("no call graph: no Deployment with --backend-url")
	}
	maxTimeout := func(h string) (d time.Duration) {
		for _, r := range routes[h] {
			d = max(d, r.timeout)
		}
		return d
	}
	minTimeout := func(h string) time.Duration {
		d := time.Duration(1<<63 - 1)
		for _, r := range routes[h] {
			d = min(d, r.timeout)
		}
		return d
	}
	appRetries := func(h string) bool {
		for _, r := range routes[h] {
			if r.appRetries() {
				return true
			}
		}
		return false
	}
	var walk func(h string, path []string, retrying int)
	walk = func(h string, path []string, retrying int) {
		path = append(path, strings.SplitN(h, ".", 2)[0])
		if appRetries(h) {
			retrying++
		}
		if retrying > 1 {
			t.Errorf("%s: application-level retries at %d layers: one failure is retried up to %d times", strings.Join(path, " → "), retrying, 1<<retrying)
		}
		for _, c := range callees[h] {
			if maxTimeout(c) >= minTimeout(h) {
				t.Errorf("%s → %s: callee timeout %s is not below the caller's %s", strings.Join(path, " → "), c, maxTimeout(c), minTimeout(h))
			}
			walk(c, path, retrying)
		}
	}
	isCallee := map[string]bool{}
	for _, cs := range callees {
		for _, c := range cs {
			isCallee[c] = true
		}
	}
	roots := 0
	for h := range callees {
		if !isCallee[h] {
			roots++
			walk(h, nil, 0)
		}
	}
	if roots == 0 {
		t.Error("the call graph has no entry")
	}

	// Every value is explained in the deploy guide.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(append(breakerFields, tcpFields...), []string{"timeout"}, []string{"retries", "attempts"}, []string{"retries", "perTryTimeout"}, []string{"retries", "retryOn"}) {
		if name := f[len(f)-1]; !regexp.MustCompile(`\b` + name + `\b`).Match(readme) {
			t.Errorf("README.md does not explain %s", strings.Join(f, "."))
		}
	}
}

// flaggerGenerated builds the VirtualService and DestinationRules Flagger
// 1.44's Istio router generates for a Canary (pkg/router/istio.go:
// reconcileDestinationRule gives <target>-primary and <target>-canary the
// Canary's spec.service.trafficPolicy; reconcileVirtualService gives the
// apex VirtualService <target> one HTTP route with the Canary's timeout and
// retries, to the primary at 100 % and the canary at 0 %), in the API
// version Flagger writes them with.
func flaggerGenerated(t *testing.T, c *unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	name, _, _ := unstructured.NestedString(c.Object, "spec", "targetRef", "name")
	svc, _, _ := unstructured.NestedMap(c.Object, "spec", "service")
	port, _, _ := unstructured.NestedFieldCopy(svc, "port")
	var out []*unstructured.Unstructured
	for _, n := range []string{name + "-primary", name + "-canary"} {
		spec := map[string]any{"host": n}
		if tp, ok := svc["trafficPolicy"]; ok {
			spec["trafficPolicy"] = tp
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
			"metadata": map[string]any{"name": n, "namespace": c.GetNamespace()}, "spec": spec,
		}})
	}
	dest := func(host string, weight int64) map[string]any {
		return map[string]any{"destination": map[string]any{"host": host, "port": map[string]any{"number": port}}, "weight": weight}
	}
	r := map[string]any{"route": []any{dest(name+"-primary", 100), dest(name+"-canary", 0)}}
	for _, f := range []string{"timeout", "retries"} {
		if v, ok := svc[f]; ok {
			r[f] = v
		}
	}
	out = append(out, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
		"metadata": map[string]any{"name": name, "namespace": c.GetNamespace()},
		"spec":     map[string]any{"hosts": []any{name}, "gateways": []any{"mesh"}, "http": []any{r}},
	}})
	return out
}

// testFlaggerGeneratedRouting: what Flagger generates from each Canary's
// resilience settings is valid Istio configuration (strict dry run against
// Istio's CRDs, whose CEL rules check the durations), carries them, and
// takes no name of ours.
func testFlaggerGeneratedRouting(t *testing.T, c *cluster) {
	objs := render(t, overlays[0])
	n := 0
	for _, cn := range objs {
		if cn.GetKind() != "Canary" {
			continue
		}
		for _, g := range flaggerGenerated(t, cn) {
			n++
			for _, o := range objs {
				if o.GetKind() == g.GetKind() && o.GetNamespace() == g.GetNamespace() && o.GetName() == g.GetName() {
					t.Errorf("%s: Flagger generates it from %s and overwrites ours", objKey(o), objKey(cn))
				}
			}
			if err := c.dryRun(t, g); err != nil {
				t.Errorf("%s generated from %s: %v", objKey(g), objKey(cn), err)
				continue
			}
			tp, _, _ := unstructured.NestedMap(g.Object, "spec", "trafficPolicy")
			http, _, _ := unstructured.NestedSlice(g.Object, "spec", "http")
			switch {
			case g.GetKind() == "DestinationRule" && (tp["connectionPool"] == nil || tp["outlierDetection"] == nil):
				t.Errorf("%s: no circuit breaker or outlier ejection", objKey(g))
			case g.GetKind() == "VirtualService" && (len(http) != 1 || http[0].(map[string]any)["timeout"] == nil || http[0].(map[string]any)["retries"] == nil):
				t.Errorf("%s: no timeout or retries on its route", objKey(g))
			}
		}
	}
	if n == 0 {
		t.Fatal("no Canary in the render")
	}
	// The check can fail: a value Istio refuses is refused in Flagger's copy.
	bad := flaggerGenerated(t, find(t, objs, "Canary", "shop", "payments"))[2]
	http, _, _ := unstructured.NestedSlice(bad.Object, "spec", "http")
	http[0].(map[string]any)["retries"].(map[string]any)["perTryTimeout"] = "0.1ms"
	_ = unstructured.SetNestedSlice(bad.Object, http, "spec", "http")
	if err := c.dryRun(t, bad); err == nil || !strings.Contains(err.Error(), "perTryTimeout") {
		t.Errorf("a generated VirtualService with perTryTimeout 0.1ms: %v, want rejected", err)
	}
	t.Logf("%d objects Flagger generates from the Canaries pass a strict server-side dry run", n)
}
