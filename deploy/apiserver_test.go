package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	mwcanaries "github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
)

// warnings collects the API server's Warning headers of the last request.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

type cluster struct {
	kube   *harness.Kube
	dyn    *dynamic.DynamicClient
	mapper *mapper
	warn   *warnings
	ctx    context.Context
}

// mapper maps a kind to its resource through the API server's discovery
// documents (/api/v1, /apis/<group>/<version>).
type mapper struct {
	client *http.Client
	host   string
	lists  map[string]metav1.APIResourceList
}

func (m *mapper) Reset() { m.lists = map[string]metav1.APIResourceList{} }

func (m *mapper) mapping(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	path := "/apis/" + gvk.Group + "/" + gvk.Version
	if gvk.Group == "" {
		path = "/api/" + gvk.Version
	}
	list, ok := m.lists[path]
	if !ok {
		resp, err := m.client.Get(m.host + path)
		if err != nil {
			return schema.GroupVersionResource{}, false, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return schema.GroupVersionResource{}, false, fmt.Errorf("discovery %s: %s %s", path, resp.Status, err)
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return schema.GroupVersionResource{}, false, err
		}
		m.lists[path] = list
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") {
			return gvk.GroupVersion().WithResource(r.Name), r.Namespaced, nil
		}
	}
	return schema.GroupVersionResource{}, false, fmt.Errorf("%s is not served by the API server", gvk)
}

func (c *cluster) resource(t testing.TB, o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	t.Helper()
	gvr, namespaced, err := c.mapper.mapping(o.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if namespaced {
		return c.dyn.Resource(gvr).Namespace(o.GetNamespace()), nil
	}
	return c.dyn.Resource(gvr), nil
}

var strictDryRun = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}

// dryRun has the API server validate o without storing it: a create, or for
// an object that already exists (namespaces, the CRDs the harness installed)
// a server-side apply, both dry-run with strict field validation. Any
// warning (deprecated API, unknown field under non-strict decoding) fails too.
func (c *cluster) dryRun(t testing.TB, o *unstructured.Unstructured) error {
	t.Helper()
	ri, err := c.resource(t, o)
	if err != nil {
		return err
	}
	c.warn.take()
	_, err = ri.Create(c.ctx, o, strictDryRun)
	if apierrors.IsAlreadyExists(err) {
		err = c.apply(ri, o, true)
	}
	var unexpected []string
	for _, w := range c.warn.take() {
		if o.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(w, "unrecognized format ") {
			// Flagger's upstream CRD (vendored verbatim) declares OpenAPI
			// formats "string" and "url" that the API server ignores.
			t.Logf("%s: tolerated warning: %s", objKey(o), w)
			continue
		}
		unexpected = append(unexpected, w)
	}
	if err == nil && len(unexpected) > 0 {
		err = fmt.Errorf("warnings: %s", strings.Join(unexpected, "; "))
	}
	return err
}

func (c *cluster) apply(ri dynamic.ResourceInterface, o *unstructured.Unstructured, dryRun bool) error {
	data, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: "meshwatch-deploy-test", Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(c.ctx, o.GetName(), types.ApplyPatchType, data, opts)
	return err
}

// applyForReal server-side-applies objects (CRDs, namespaces, RBAC).
func (c *cluster) applyForReal(t testing.TB, objs ...*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		ri, err := c.resource(t, o)
		if err == nil {
			err = c.apply(ri, o, false)
		}
		if err != nil {
			t.Fatalf("apply %s: %v", objKey(o), err)
		}
	}
}

func startCluster(t *testing.T) *cluster {
	k := harness.StartKube(t)
	cfg := rest.CopyConfig(k.AdminConfig)
	w := &warnings{}
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &mapper{client: hc, host: cfg.Host}
	m.Reset()
	return &cluster{kube: k, dyn: dyn, mapper: m, warn: w, ctx: context.Background()}
}

// TestAgainstAPIServer checks the manifests on a real kube-apiserver (1.36,
// etcd, RBAC) that has Istio's and Flagger's CRDs: every rendered object of
// every overlay passes a strict server-side dry run, the check itself
// rejects unknown fields and invalid values, the RBAC of the plugin's
// ServiceAccount allows exactly what grafana-rbac.yaml says, and the
// intake-token Job may touch its one Secret only and stores a token with it.
func TestAgainstAPIServer(t *testing.T) {
	c := startCluster(t)

	// Flagger's CRDs as shipped in deploy/crds (the harness installed an
	// older copy): dry-run first, then installed for real so the Canary
	// objects below are validated against the schema we ship.
	crds := render(t, crdsDir)
	for _, o := range crds {
		if err := c.dryRun(t, o); err != nil {
			t.Fatalf("dry run %s: %v", objKey(o), err)
		}
	}
	c.applyForReal(t, crds...)
	waitEstablished(t, c, crds)
	c.mapper.Reset()

	// Namespaces for real: istio-system (made by istioctl) and the stack's.
	nsObjs := []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "istio-system"},
	}}}
	for _, dir := range overlays {
		for _, o := range render(t, dir) {
			if o.GetKind() == "Namespace" {
				nsObjs = append(nsObjs, o.DeepCopy())
			}
		}
	}
	c.applyForReal(t, nsObjs...)

	for _, dir := range overlays {
		t.Run("dry-run/"+dir, func(t *testing.T) {
			objs := render(t, dir)
			failed := 0
			for _, o := range objs {
				if err := c.dryRun(t, o.DeepCopy()); err != nil {
					failed++
					t.Errorf("%s: %v", objKey(o), err)
				}
			}
			t.Logf("%s: %d/%d objects pass a strict server-side dry run", dir, len(objs)-failed, len(objs))
		})
	}

	t.Run("the dry run rejects unknown fields and invalid values", func(t *testing.T) {
		testDryRunRejects(t, c)
	})

	t.Run("flagger's generated routing carries the resilience", func(t *testing.T) {
		testFlaggerGeneratedRouting(t, c)
	})

	t.Run("grafana RBAC", func(t *testing.T) {
		testGrafanaRBAC(t, c)
	})

	t.Run("intake-token Job: RBAC and its script", func(t *testing.T) {
		testIntakeTokenJob(t, c)
	})
}

func waitEstablished(t *testing.T, c *cluster, crds []*unstructured.Unstructured) {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deadline := time.Now().Add(time.Minute)
	for _, crd := range crds {
		for {
			o, err := c.dyn.Resource(gvr).Get(c.ctx, crd.GetName(), metav1.GetOptions{})
			if err == nil && crdEstablished(o) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not Established: %v", crd.GetName(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func crdEstablished(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, cnd := range conds {
		m, _ := cnd.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func testDryRunRejects(t *testing.T, c *cluster) {
	objs := render(t, overlays[0])
	mutate := func(kind, ns, name string, f func(o map[string]any)) *unstructured.Unstructured {
		o := find(t, objs, kind, ns, name).DeepCopy()
		f(o.Object)
		return o
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"unknown field in a Deployment's container", mutate("Deployment", "shop", "frontend", func(o map[string]any) {
			cs, _, _ := unstructured.NestedSlice(o, "spec", "template", "spec", "containers")
			cs[0].(map[string]any)["resourcez"] = map[string]any{"limits": map[string]any{"cpu": "1"}}
			_ = unstructured.SetNestedSlice(o, cs, "spec", "template", "spec", "containers")
		}), `unknown field "spec.template.spec.containers[0].resourcez"`},
		{"unknown field in a Flagger Canary", mutate("Canary", "shop", "payments", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, []any{int64(10)}, "spec", "analysis", "stepWeightz")
		}), `unknown field "spec.analysis.stepWeightz"`},
		{"unknown field in an Istio AuthorizationPolicy", mutate("AuthorizationPolicy", "shop", "payments", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, "ALLOW", "spec", "actionz")
		}), `unknown field "spec.actionz"`},
		{"invalid enum in an Istio PeerAuthentication", mutate("PeerAuthentication", "istio-system", "default", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, "STRICTER", "spec", "mtls", "mode")
		}), "spec.mtls.mode"},
		// Why payments' breaker is the http part only (deploy/README.md, "Resilience").
		{"connectionPool.tcp in a Flagger 1.44 Canary", mutate("Canary", "shop", "payments", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, int64(32), "spec", "service", "trafficPolicy", "connectionPool", "tcp", "maxConnections")
		}), `unknown field "spec.service.trafficPolicy.connectionPool.tcp"`},
		{"invalid Canary analysis interval", mutate("Canary", "shop", "payments", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, "fast", "spec", "analysis", "interval")
		}), "spec.analysis.interval"},
		{"invalid container memory", mutate("Deployment", "monitoring", "grafana", func(o map[string]any) {
			cs, _, _ := unstructured.NestedSlice(o, "spec", "template", "spec", "containers")
			_ = unstructured.SetNestedField(cs[0].(map[string]any), "lots", "resources", "limits", "memory")
			_ = unstructured.SetNestedSlice(o, cs, "spec", "template", "spec", "containers")
		}), "quantities must match"},
	}
	for _, tc := range cases {
		err := c.dryRun(t, tc.obj)
		switch {
		case err == nil:
			t.Errorf("%s: the dry run accepted it", tc.name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		default:
			t.Logf("%s: rejected (%s)", tc.name, firstLine(err.Error()))
		}
	}
}

func firstLine(s string) string {
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.SplitN(s, "\n", 2)[0]
}

// The plugin's identity: Grafana's pod runs as monitoring/grafana.
const (
	grafanaSA   = "system:serviceaccount:monitoring:grafana"
	watchedNS   = "shop"
	grafanaNS   = "monitoring"
	grafanaName = "grafana"
)

type gr struct{ group, resource, sub string }

func (g gr) String() string {
	s := g.resource
	if g.sub != "" {
		s += "/" + g.sub
	}
	if g.group != "" {
		s += "." + g.group
	}
	return s
}

func testGrafanaRBAC(t *testing.T, c *cluster) {
	// Apply the rendered RBAC for real (every overlay's: they are the same).
	var rbac []*unstructured.Unstructured
	for _, o := range render(t, overlays[0]) {
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			rbac = append(rbac, o.DeepCopy())
		}
	}
	c.applyForReal(t, rbac...)

	sarGVR := schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
	namespaced := []gr{
		{"flagger.app", "canaries", ""}, {"", "events", ""}, {"", "pods", ""}, {"apps", "deployments", ""},
		{"flagger.app", "canaries", "status"}, {"flagger.app", "metrictemplates", ""}, {"flagger.app", "alertproviders", ""},
		{"events.k8s.io", "events", ""}, {"", "pods", "log"}, {"", "pods", "exec"}, {"", "pods", "eviction"},
		{"apps", "deployments", "scale"}, {"apps", "replicasets", ""}, {"apps", "daemonsets", ""},
		{"", "services", ""}, {"", "endpoints", ""}, {"", "configmaps", ""}, {"", "secrets", ""},
		{"", "serviceaccounts", ""}, {"", "serviceaccounts", "token"}, {"", "persistentvolumeclaims", ""},
		{"networking.istio.io", "virtualservices", ""}, {"networking.istio.io", "destinationrules", ""},
		{"security.istio.io", "authorizationpolicies", ""}, {"security.istio.io", "peerauthentications", ""},
		{"rbac.authorization.k8s.io", "roles", ""}, {"rbac.authorization.k8s.io", "rolebindings", ""},
	}
	clusterScoped := []gr{
		{"", "namespaces", ""}, {"", "nodes", ""}, {"", "nodes", "proxy"}, {"", "persistentvolumes", ""},
		{"rbac.authorization.k8s.io", "clusterroles", ""}, {"rbac.authorization.k8s.io", "clusterrolebindings", ""},
		{"apiextensions.k8s.io", "customresourcedefinitions", ""}, {"certificates.k8s.io", "certificatesigningrequests", ""},
	}
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	allowed := map[string]bool{ // resource in watchedNS -> verbs
		"canaries.flagger.app": true, "events": true, "pods": true, "deployments.apps": true,
	}
	readVerbs := map[string]bool{"get": true, "list": true, "watch": true}
	// The one write (meshwatch-actions): patch a Deployment and its scale,
	// for remediation steps a person approved.
	patched := map[string]bool{"deployments.apps": true, "deployments/scale.apps": true}

	sar := func(ns, verb string, r gr) bool {
		review := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "authorization.k8s.io/v1",
			"kind":       "SubjectAccessReview",
			"spec": map[string]any{
				"user":   grafanaSA,
				"groups": []any{"system:serviceaccounts", "system:serviceaccounts:" + grafanaNS, "system:authenticated"},
				"resourceAttributes": map[string]any{
					"namespace": ns, "verb": verb, "group": r.group, "resource": r.resource, "subresource": r.sub,
				},
			},
		}}
		res, err := c.dyn.Resource(sarGVR).Create(c.ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		ok, _, _ := unstructured.NestedBool(res.Object, "status", "allowed")
		return ok
	}

	// The API server's RBAC authorizer learns of the Roles just applied from
	// its informers: wait until one grant the manifests make is seen, so the
	// matrix below reads settled RBAC, not a cache still filling (on a busy
	// machine the first check could run before the RoleBinding arrived).
	for deadline := time.Now().Add(30 * time.Second); !sar(watchedNS, "get", namespaced[0]); {
		if time.Now().After(deadline) {
			t.Fatalf("%s never got get %s in %s within 30 s", grafanaSA, namespaced[0], watchedNS)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Each cell: the namespaces (of shop, monitoring, istio-system, default,
	// and "*" = all namespaces / cluster scope) where the verb is allowed.
	namespaces := []string{"shop", "monitoring", "istio-system", "default", ""}
	var b strings.Builder
	fmt.Fprintf(&b, "%-48s", "resource \\ verb ("+grafanaSA+")")
	for _, v := range verbs {
		fmt.Fprintf(&b, " %-16s", v)
	}
	b.WriteString("\n")
	checks, granted := 0, 0
	row := func(r gr, nss []string) {
		fmt.Fprintf(&b, "%-48s", r.String())
		for _, v := range verbs {
			var where []string
			for _, ns := range nss {
				checks++
				ok := sar(ns, v, r)
				want := ns == watchedNS && (r.sub == "" && allowed[r.String()] && readVerbs[v] || v == "patch" && patched[r.String()])
				if ok {
					granted++
					name := ns
					if name == "" {
						name = "*"
					}
					where = append(where, name)
				}
				if ok != want {
					t.Errorf("%s %s %s in namespace %q: allowed=%v, want %v", grafanaSA, v, r, ns, ok, want)
				}
			}
			cell := "-"
			if len(where) > 0 {
				cell = strings.Join(where, ",")
			}
			fmt.Fprintf(&b, " %-16s", cell)
		}
		b.WriteString("\n")
	}
	for _, r := range namespaced {
		row(r, namespaces)
	}
	for _, r := range clusterScoped {
		row(r, []string{""})
	}
	// Verbs that are privilege escalations in themselves.
	for _, x := range []struct {
		verb string
		r    gr
	}{
		{"impersonate", gr{"", "users", ""}}, {"impersonate", gr{"", "serviceaccounts", ""}},
		{"escalate", gr{"rbac.authorization.k8s.io", "clusterroles", ""}}, {"bind", gr{"rbac.authorization.k8s.io", "clusterroles", ""}},
	} {
		for _, ns := range []string{watchedNS, ""} {
			checks++
			if sar(ns, x.verb, x.r) {
				granted++
				t.Errorf("%s may %s %s", grafanaSA, x.verb, x.r)
			}
		}
	}
	t.Logf("SubjectAccessReviews: %d checks, %d allowed (want %d: get/list/watch of 4 resources and patch of deployments and deployments/scale in %s); - = denied, * = all namespaces/cluster\n%s",
		checks, granted, 3*len(allowed)+len(patched), watchedNS, b.String())
	if granted != 3*len(allowed)+len(patched) {
		t.Errorf("%d permissions granted, want %d", granted, 3*len(allowed)+len(patched))
	}

	// And through the API itself, impersonating the ServiceAccount.
	as, err := dynamic.NewForConfig(c.kube.AsServiceAccount(grafanaNS, grafanaName))
	if err != nil {
		t.Fatal(err)
	}
	canaries := schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}
	if _, err := as.Resource(canaries).Namespace(watchedNS).List(c.ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("grafana lists canaries in %s: %v", watchedNS, err)
	}
	for _, deny := range []struct {
		what string
		err  error
	}{
		{"list canaries in istio-system", func() error {
			_, err := as.Resource(canaries).Namespace("istio-system").List(c.ctx, metav1.ListOptions{})
			return err
		}()},
		{"list canaries cluster-wide", func() error { _, err := as.Resource(canaries).List(c.ctx, metav1.ListOptions{}); return err }()},
		{"patch a canary in shop", func() error {
			_, err := as.Resource(canaries).Namespace(watchedNS).Patch(c.ctx, "payments", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
			return err
		}()},
		{"list secrets in monitoring", func() error {
			_, err := as.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(grafanaNS).List(c.ctx, metav1.ListOptions{})
			return err
		}()},
	} {
		if !apierrors.IsForbidden(deny.err) {
			t.Errorf("grafana may %s: err = %v, want 403 Forbidden", deny.what, deny.err)
		}
	}
	var names []string
	for r := range allowed {
		names = append(names, r)
	}
	sort.Strings(names)
	t.Logf("impersonated as %s: list canaries in shop allowed; other namespaces, cluster-wide, patch and secrets forbidden (allowed set: get/list/watch %s in %s)", grafanaSA, strings.Join(names, ", "), watchedNS)

	// MeshWatch's canary capability as that ServiceAccount: the watch of the
	// namespace deploy/ grants works; a namespace it does not grant is
	// reported as such, naming the fix.
	kc, err := kubernetes.NewForConfig(c.kube.AsServiceAccount(grafanaNS, grafanaName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ns, want string }{{watchedNS, ""}, {"istio-system", "apply deploy/'s RBAC"}} {
		svc := mwcanaries.New(mwcanaries.Options{Kube: kc, Namespaces: []string{tc.ns}})
		svc.Start()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body := canaryList(svc)
			if (tc.want == "" && svc.Synced() && body.Error == "") || (tc.want != "" && strings.Contains(body.Error, tc.want)) {
				t.Logf("the canary watch of %s as %s: %q", tc.ns, grafanaSA, body.Error)
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the canary watch of %s as %s: synced %v, error %q; want %q", tc.ns, grafanaSA, svc.Synced(), body.Error, tc.want)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		svc.Stop()
	}
}

// canaryList is GET /canaries of the capability, as a Viewer.
func canaryList(svc *mwcanaries.Service) (int, mwcanaries.ListResponse) {
	var l mwcanaries.ListResponse
	err := svc.ListErr()
	l.Canaries = svc.Snapshot(context.Background())
	if err != nil {
		l.Error = err.Error()
	}
	return len(l.Canaries), l
}
