package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshwatch/meshwatch/pkg/settings"
)

// image references: registry/path:tag or @sha256 digest; a tag must be a
// version, not latest/stable/main.
var (
	imageRef   = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$`)
	movingTags = map[string]bool{"latest": true, "stable": true, "main": true, "master": true, "edge": true, "nightly": true}
)

func checkImage(image string) error {
	if !imageRef.MatchString(image) {
		return fmt.Errorf("%q is not a fully qualified image reference (registry/repository:tag)", image)
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 {
		return fmt.Errorf("%q has no tag", image)
	}
	if tag := last[i+1:]; movingTags[tag] || !regexp.MustCompile(`[0-9]`).MatchString(tag) {
		return fmt.Errorf("%q: tag %q is not a pinned version", image, tag)
	}
	return nil
}

func TestEveryImageIsPinned(t *testing.T) {
	for _, bad := range []string{"grafana/grafana", "docker.io/grafana/grafana", "docker.io/grafana/grafana:latest", "quay.io/x/y:main"} {
		if checkImage(bad) == nil {
			t.Errorf("checkImage(%q) passed, want an error", bad)
		}
	}
	seen := map[string]bool{}
	for _, dir := range overlays {
		for _, o := range render(t, dir) {
			spec, _ := podSpec(o)
			for _, c := range containers(spec) {
				img, _ := c.m["image"].(string)
				if err := checkImage(img); err != nil {
					t.Errorf("%s: %s container %s: %v", dir, objKey(o), c.name, err)
				}
				seen[img] = true
			}
		}
	}
	// Istio's images come from istioctl with the hub/tag of the values file.
	var iop map[string]any
	readYAMLFile(t, istioValues, &iop)
	hub, _, _ := unstructured.NestedString(iop, "spec", "hub")
	tag, _, _ := unstructured.NestedString(iop, "spec", "tag")
	for _, img := range []string{hub + "/pilot:" + tag, hub + "/proxyv2:" + tag} {
		if err := checkImage(img); err != nil {
			t.Errorf("%s: %v", istioValues, err)
		}
		seen[img] = true
	}
	var list []string
	for img := range seen {
		list = append(list, img)
	}
	sort.Strings(list)
	t.Logf("%d images:\n  %s", len(list), strings.Join(list, "\n  "))
}

func TestEveryContainerHasRequestsAndLimits(t *testing.T) {
	for _, dir := range overlays {
		for _, o := range render(t, dir) {
			spec, tmpl := podSpec(o)
			for _, c := range containers(spec) {
				for _, kind := range []string{"requests", "limits"} {
					for _, res := range []string{"cpu", "memory"} {
						if v, ok, _ := unstructured.NestedString(c.m, "resources", kind, res); !ok || v == "" {
							t.Errorf("%s: %s container %s has no resources.%s.%s", dir, objKey(o), c.name, kind, res)
						}
					}
				}
			}
			// Injected pods state their sidecar's size too.
			if spec != nil && injected(o, tmpl, render(t, dir)) {
				ann, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "annotations")
				for _, a := range sidecarAnnotations {
					if ann[a] == "" {
						t.Errorf("%s: %s is sidecar-injected but has no %s annotation", dir, objKey(o), a)
					}
				}
			}
		}
	}
}

func TestIstioValues(t *testing.T) {
	var iop map[string]any
	readYAMLFile(t, istioValues, &iop)
	if iop["kind"] != "IstioOperator" {
		t.Fatalf("%s: kind %v, want IstioOperator (istioctl install -f)", istioValues, iop["kind"])
	}
	if p, _, _ := unstructured.NestedString(iop, "spec", "profile"); p != "minimal" {
		t.Errorf("profile %q, want minimal", p)
	}
	if merge, _, _ := unstructured.NestedBool(iop, "spec", "meshConfig", "enablePrometheusMerge"); !merge {
		t.Error("meshConfig.enablePrometheusMerge must be true: Prometheus' job kubernetes-pods scrapes the merged :15020 endpoint")
	}
	for _, path := range [][]string{
		{"spec", "components", "pilot", "k8s", "resources"},
		{"spec", "values", "global", "proxy", "resources"},
	} {
		if _, ok, _ := unstructured.NestedMap(iop, path...); !ok {
			t.Errorf("%s: no %s", istioValues, strings.Join(path, "."))
		}
	}
	// The Telemetry object's providers must be declared in meshConfig.
	providers := map[string]bool{}
	eps, _, _ := unstructured.NestedSlice(iop, "spec", "meshConfig", "extensionProviders")
	for _, p := range eps {
		providers[p.(map[string]any)["name"].(string)] = true
	}
	for _, o := range render(t, overlays[0]) {
		if o.GetKind() != "Telemetry" {
			continue
		}
		for _, section := range []string{"tracing", "accessLogging", "metrics"} {
			list, _, _ := unstructured.NestedSlice(o.Object, "spec", section)
			for _, e := range list {
				ps, _ := e.(map[string]any)["providers"].([]any)
				for _, p := range ps {
					name := p.(map[string]any)["name"].(string)
					if !providers[name] && name != "envoy" && name != "prometheus" {
						t.Errorf("%s uses provider %q, not in meshConfig.extensionProviders of %s", objKey(o), name, istioValues)
					}
				}
			}
		}
	}
	// Tracing goes to Tempo's receivers.
	for _, p := range eps {
		pm := p.(map[string]any)
		for _, kind := range []string{"zipkin", "opentelemetry"} {
			if c, ok := pm[kind].(map[string]any); ok && c["service"] != "tempo.monitoring.svc.cluster.local" {
				t.Errorf("extension provider %v sends %s to %v, want tempo.monitoring.svc.cluster.local", pm["name"], kind, c["service"])
			}
		}
	}
}

func TestMeshSecurity(t *testing.T) {
	objs := render(t, overlays[0])
	pa := find(t, objs, "PeerAuthentication", "istio-system", "default")
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "STRICT" {
		t.Errorf("mesh-wide PeerAuthentication mode %q, want STRICT", mode)
	}
	for _, o := range objs {
		if o.GetKind() == "PeerAuthentication" && o.GetName() != "default" {
			t.Errorf("%s: only the mesh-wide STRICT policy is expected (no per-namespace/port exceptions)", objKey(o))
		}
	}
	deny := find(t, objs, "AuthorizationPolicy", "istio-system", "allow-nothing")
	if spec, _, _ := unstructured.NestedMap(deny.Object, "spec"); len(spec) != 0 {
		t.Errorf("allow-nothing must have an empty spec (deny by default), got %v", spec)
	}

	// Which identity may call which shop workload, from the ALLOW policies.
	got := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() != "AuthorizationPolicy" || o.GetNamespace() != "shop" {
			continue
		}
		if a, _, _ := unstructured.NestedString(o.Object, "spec", "action"); a != "ALLOW" {
			t.Errorf("%s: action %q, want ALLOW", objKey(o), a)
		}
		target, _, _ := unstructured.NestedString(o.Object, "spec", "selector", "matchLabels", "app.kubernetes.io/name")
		if target == "" {
			t.Errorf("%s: no app.kubernetes.io/name selector (a namespace-wide ALLOW would open every workload)", objKey(o))
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		for _, r := range rules {
			from, _ := r.(map[string]any)["from"].([]any)
			if len(from) == 0 {
				t.Errorf("%s: a rule without from allows any caller", objKey(o))
			}
			for _, f := range from {
				src := f.(map[string]any)["source"].(map[string]any)
				for k := range src {
					if k != "principals" {
						t.Errorf("%s: source.%s: callers must be named by principal only", objKey(o), k)
					}
				}
				ps, _ := src["principals"].([]any)
				for _, p := range ps {
					got[p.(string)+" -> "+target] = true
				}
			}
		}
	}
	want := []string{
		"cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account -> frontend",
		"cluster.local/ns/shop/sa/frontend -> api",
		"cluster.local/ns/shop/sa/api -> orders",
		"cluster.local/ns/shop/sa/api -> payments",
		"cluster.local/ns/shop/sa/api -> inventory",
		"cluster.local/ns/shop/sa/flagger-loadtester -> payments",
		"cluster.local/ns/istio-system/sa/flagger -> flagger-loadtester",
		"cluster.local/ns/monitoring/sa/grafana -> flagger-loadtester",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing allowance %s", w)
		}
		delete(got, w)
	}
	for extra := range got {
		t.Errorf("unexpected allowance %s", extra)
	}
	// The principals name ServiceAccounts that exist and that the workloads run as.
	for _, w := range []string{"frontend", "api", "orders", "inventory", "payments", "flagger-loadtester"} {
		d := find(t, objs, "Deployment", "shop", w)
		if sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName"); sa != w {
			t.Errorf("Deployment shop/%s runs as %q, want ServiceAccount %s", w, sa, w)
		}
		find(t, objs, "ServiceAccount", "shop", w)
	}
}

func TestPaymentsCanary(t *testing.T) {
	objs := render(t, overlays[0])
	c := find(t, objs, "Canary", "shop", "payments")
	a, _, _ := unstructured.NestedMap(c.Object, "spec", "analysis")
	steps, _, _ := unstructured.NestedSlice(a, "stepWeights")
	if fmt.Sprint(steps) != "[10 25 50]" {
		t.Errorf("stepWeights %v, want [10 25 50]", steps)
	}
	interval, err := time.ParseDuration(fmt.Sprint(a["interval"]))
	if err != nil || interval < 15*time.Second || interval > 30*time.Second {
		t.Errorf("analysis interval %v, want 15s..30s", a["interval"])
	}
	threshold := number(a, "threshold")
	if threshold < 1 {
		t.Errorf("threshold %v, want >= 1", threshold)
	}
	// Flagger rolls back on the tick after the threshold-th failed check.
	if rb := time.Duration(threshold) * interval; rb > 30*time.Second {
		t.Errorf("rollback after interval*threshold = %v, want <= 30s", rb)
	}
	metrics := map[string]map[string]any{}
	ms, _, _ := unstructured.NestedSlice(a, "metrics")
	for _, m := range ms {
		mm := m.(map[string]any)
		metrics[mm["name"].(string)] = mm
		// The 15 s scrape needs a window of >= 4 samples, or a quiet window
		// reads as "no values" and fails the check.
		if d, err := time.ParseDuration(fmt.Sprint(mm["interval"])); err != nil || d < 4*15*time.Second {
			t.Errorf("metric %v interval %v, want >= 1m (4 scrapes)", mm["name"], mm["interval"])
		}
	}
	if v := number(metrics["request-success-rate"], "thresholdRange", "min"); v != 99.5 {
		t.Errorf("request-success-rate min %v, want 99.5", v)
	}
	if v := number(metrics["request-duration"], "thresholdRange", "max"); v != 500 {
		t.Errorf("request-duration max %v, want 500 (ms)", v)
	}
	hooks := map[string]string{}
	ws, _, _ := unstructured.NestedSlice(a, "webhooks")
	for _, w := range ws {
		wm := w.(map[string]any)
		hooks[fmt.Sprint(wm["type"])] = fmt.Sprint(wm["url"])
	}
	for _, typ := range []string{"pre-rollout", "rollout", "confirm-promotion", "rollback", "post-rollout"} {
		if hooks[typ] == "" {
			t.Errorf("no %s webhook", typ)
		}
	}
	// Flagger's webhooks carry no credentials, so the gates are the load
	// tester's, which MeshWatch opens after a sign-off (pkg/canaries finds
	// the load tester from these URLs); the post-rollout hook closes the
	// promotion gate, so the next revision waits for its own decision.
	for typ, want := range map[string]string{
		"confirm-promotion": "http://flagger-loadtester.shop/gate/check",
		"rollback":          "http://flagger-loadtester.shop/rollback/check",
		"post-rollout":      "http://flagger-loadtester.shop/gate/close",
	} {
		if hooks[typ] != want {
			t.Errorf("%s webhook %q, want %q", typ, hooks[typ], want)
		}
	}
	args := fmt.Sprint(containerArgs(t, find(t, objs, "Deployment", "shop", "flagger-loadtester")))
	if !strings.Contains(args, "-namespace-regexp=^shop$") {
		t.Errorf("the load tester's gates are not limited to shop's canaries: %s", args)
	}
	// Flagger owns payments' Services; shipping one would fight it.
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GetNamespace() == "shop" && strings.HasPrefix(o.GetName(), "payments") {
			t.Errorf("%s: Flagger creates and owns the payments Services", objKey(o))
		}
	}
	d := find(t, objs, "Deployment", "shop", "payments")
	if _, ok, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas"); ok {
		t.Error("Deployment shop/payments sets replicas: Flagger scales the canary target, kubectl apply would undo it")
	}
}

// containerArgs is the first container's command and args.
func containerArgs(t *testing.T, d *unstructured.Unstructured) []any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		t.Fatalf("%s has no containers", objKey(d))
	}
	c := cs[0].(map[string]any)
	cmd, _ := c["command"].([]any)
	args, _ := c["args"].([]any)
	return append(cmd, args...)
}

// TestLoadTesterGatePaths: Flagger may only check gates (and close the
// promotion gate after a rollout); opening any gate is Grafana's alone.
func TestLoadTesterGatePaths(t *testing.T) {
	objs := render(t, overlays[0])
	p := find(t, objs, "AuthorizationPolicy", "shop", "flagger-loadtester")
	rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "rules")
	openers := map[string][]string{}
	for _, r := range rules {
		rm := r.(map[string]any)
		from, _ := rm["from"].([]any)
		to, _ := rm["to"].([]any)
		for _, f := range from {
			ps, _, _ := unstructured.NestedStringSlice(f.(map[string]any), "source", "principals")
			for _, tt := range to {
				paths, _, _ := unstructured.NestedStringSlice(tt.(map[string]any), "operation", "paths")
				if len(paths) == 0 {
					t.Errorf("a rule for %v allows every path of the load tester", ps)
				}
				for _, path := range paths {
					if strings.HasSuffix(path, "/open") {
						openers[path] = append(openers[path], ps...)
					}
				}
			}
		}
	}
	for _, path := range []string{"/gate/open", "/rollback/open"} {
		if fmt.Sprint(openers[path]) != "[cluster.local/ns/monitoring/sa/grafana]" {
			t.Errorf("%s may be called by %v, want Grafana's principal only", path, openers[path])
		}
	}
	g := find(t, objs, "Deployment", "monitoring", "grafana")
	if v, _, _ := unstructured.NestedString(g.Object, "spec", "template", "metadata", "annotations", "traffic.sidecar.istio.io/includeInboundPorts"); v != "" || !injected(g, g.Object["spec"].(map[string]any)["template"].(map[string]any), objs) {
		t.Error("Grafana needs an outbound-only sidecar (its identity opens the gates; inbound stays plaintext)")
	}
}

// number reads a YAML number (decoded as int64 or float64).
func number(m map[string]any, path ...string) float64 {
	v, _, _ := unstructured.NestedFieldNoCopy(m, path...)
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// grafana returns the Grafana Deployment's container, the rendered objects
// and the provisioning files.
func grafanaProvisioning(t *testing.T) (map[string]any, []*unstructured.Unstructured) {
	objs := render(t, overlays[0])
	d := find(t, objs, "Deployment", "monitoring", "grafana")
	spec, _ := podSpec(d)
	for _, c := range containers(spec) {
		if c.name == "grafana" {
			return c.m, objs
		}
	}
	t.Fatal("no grafana container")
	return nil, nil
}

func TestGrafanaProvisioning(t *testing.T) {
	gc, objs := grafanaProvisioning(t)
	defaults := settings.Defaults()

	// Datasources: uid, type and in-cluster URL each.
	var ds struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL, Access string
		} `json:"datasources"`
	}
	if err := yaml.Unmarshal([]byte(configMapFile(t, objs, "grafana-provisioning", "datasources.yaml")), &ds); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"prometheus":   defaults.Prometheus.URL,
		"loki":         defaults.Loki.URL,
		"tempo":        defaults.Tempo.URL,
		"alertmanager": defaults.Alertmanager.URL,
	}
	got := map[string]string{}
	types := map[string]string{}
	for _, d := range ds.Datasources {
		types[d.UID] = d.Type
		if d.UID == "" || d.Type == "" || d.URL == "" || d.Name == "" {
			t.Errorf("datasource %+v: name, uid, type and url are all required", d)
		}
		if d.Type != d.UID {
			t.Errorf("datasource %s has type %s: the dashboards expect uid == type", d.UID, d.Type)
		}
		got[d.UID] = d.URL
	}
	if ds.APIVersion != 1 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("datasources %v (apiVersion %d), want %v", got, ds.APIVersion, want)
	}

	// The app: type, settings that pass MeshWatch's own validation, secrets from env.
	var apps struct {
		APIVersion int `json:"apiVersion"`
		Apps       []struct {
			Type           string            `json:"type"`
			OrgID          int               `json:"org_id"`
			Disabled       bool              `json:"disabled"`
			JSONData       json.RawMessage   `json:"jsonData"`
			SecureJSONData map[string]string `json:"secureJsonData"`
		} `json:"apps"`
	}
	if err := yaml.Unmarshal([]byte(configMapFile(t, objs, "grafana-provisioning", "meshwatch-app.yaml")), &apps); err != nil {
		t.Fatal(err)
	}
	if len(apps.Apps) != 1 || apps.Apps[0].Type != "meshwatch-mesh-app" || apps.Apps[0].Disabled {
		t.Fatalf("apps %+v, want one enabled meshwatch-mesh-app", apps.Apps)
	}
	app := apps.Apps[0]
	s, err := settings.Load(app.JSONData, nil)
	if err != nil {
		t.Fatalf("provisioned jsonData does not load: %v", err)
	}
	for name, pair := range map[string][2]string{
		"prometheus":   {s.Prometheus.URL, defaults.Prometheus.URL},
		"loki":         {s.Loki.URL, defaults.Loki.URL},
		"tempo":        {s.Tempo.URL, defaults.Tempo.URL},
		"alertmanager": {s.Alertmanager.URL, defaults.Alertmanager.URL},
		"ollama":       {s.Ollama.URL, defaults.Ollama.URL},
		"storage":      {s.Storage.Path, defaults.Storage.Path},
		"kube mode":    {s.Kubernetes.Mode, settings.KubeInCluster},
	} {
		if pair[0] != pair[1] {
			t.Errorf("app %s = %q, want %q", name, pair[0], pair[1])
		}
	}
	// Prometheus, Loki, Tempo and Alertmanager are the provisioned datasources,
	// reached through Grafana's datasource proxy.
	for name, e := range map[string]settings.Endpoint{"prometheus": s.Prometheus, "loki": s.Loki, "tempo": s.Tempo,
		"alertmanager": s.Alertmanager} {
		if !e.ViaGrafana() || types[e.DatasourceUID] != name {
			t.Errorf("app %s.datasourceUid = %q (type %q), want the uid of the provisioned %s datasource",
				name, e.DatasourceUID, types[e.DatasourceUID], name)
		}
	}
	if !slices.Equal(s.Kubernetes.Namespaces, []string{"shop"}) {
		t.Errorf("app kubernetes.namespaces = %v, want [shop] (the namespaces grafana-rbac.yaml grants)", s.Kubernetes.Namespaces)
	}
	env := map[string]bool{}
	list, _ := gc["env"].([]any)
	for _, e := range list {
		env[e.(map[string]any)["name"].(string)] = true
	}
	for key, v := range app.SecureJSONData {
		if !strings.HasPrefix(v, "$") || !env[strings.Trim(v, "${}")] {
			t.Errorf("secureJsonData.%s = %q must be a $VARIABLE that the grafana container has", key, v)
		}
	}

	// Dashboard provider: file type, path = where the ConfigMap is mounted.
	var dp struct {
		Providers []struct {
			Name, Type string
			Options    struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal([]byte(configMapFile(t, objs, "grafana-provisioning", "dashboards.yaml")), &dp); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{}
	vms, _ := gc["volumeMounts"].([]any)
	for _, m := range vms {
		mm := m.(map[string]any)
		mounts[mm["mountPath"].(string)] = mm["name"].(string)
	}
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || mounts[dp.Providers[0].Options.Path] != "dashboards" {
		t.Errorf("dashboard providers %+v: want one file provider reading the dashboards volume (mounts %v)", dp.Providers, mounts)
	}
	if mounts["/etc/grafana/provisioning"] != "provisioning" {
		t.Error("provisioning ConfigMap is not mounted at /etc/grafana/provisioning")
	}

	// grafana.ini: the plugin settings and no telemetry.
	ini := parseINI(configMapFile(t, objs, "grafana-config", "grafana.ini"))
	for key, want := range map[string]string{
		"plugins.forward_host_env_vars":          "meshwatch-mesh-app",
		"plugins.allow_loading_unsigned_plugins": "meshwatch-mesh-app",
		"plugins.preinstall_disabled":            "true",
		"plugins.public_key_retrieval_disabled":  "true",
		"analytics.reporting_enabled":            "false",
		"analytics.check_for_updates":            "false",
		"analytics.check_for_plugin_updates":     "false",
		"analytics.feedback_links_enabled":       "false",
		"news.news_feed_enabled":                 "false",
		"snapshots.external_enabled":             "false",
		"feature_toggles.enable":                 "externalServiceAccounts", // the plugin's managed service account,
		"auth.managed_service_accounts_enabled":  "true",                    // for the datasource proxy
	} {
		if ini[key] != want {
			t.Errorf("grafana.ini %s = %q, want %q", key, ini[key], want)
		}
	}
}

func parseINI(s string) map[string]string {
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if ok {
				out[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
