package signoff_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
	"github.com/meshwatch/meshwatch/pkg/signoff"
)

// TestExecutionOnTheAPIServer is the sign-off's whole path on a real
// kube-apiserver, acting as the plugin's ServiceAccount with deploy/'s
// RBAC, with the decisions in the SQLite store: a pending step's execution
// is refused with no request to the server and the refusal recorded; once
// an Editor approves it, Execute really patches the Deployment
// (restartedAt) and the trail holds the approval, the start and the
// server's answer, the chain verifying.
func TestExecutionOnTheAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd")
	}
	k := harness.StartKube(t)
	ctx := context.Background()
	kadmin, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	ns, saNS, saName := applyRBAC(t, kadmin)
	deps := kadmin.Resource(actions.DeploymentResource).Namespace(ns)
	if _, err := deps.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "payments", "namespace": ns},
		"spec": map[string]any{"replicas": int64(1), "selector": map[string]any{"matchLabels": map[string]any{"app": "payments"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "payments"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/payments:1.4.2"}}}}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	cfg := rest.CopyConfig(k.AsServiceAccount(saNS, saName))
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) { calls.Add(1); return rt.RoundTrip(r) })
	}
	as, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitForRBAC(t, as, ns)

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meshwatch.db"), incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 12, 2, 5, 30, 0, 0, time.UTC)
	svc := signoff.NewService(store, &actions.Executor{Kube: as, Bounds: actions.DefaultBounds, Namespaces: []string{ns}, Now: func() time.Time { return now }}, nil)
	step := signoff.Suggestion{Incident: 7, Analysis: "3", Step: 2, Text: "Restart payments to free memory now",
		Action: &actions.Action{Kind: actions.Restart, Namespace: ns, Name: "payments"}}
	if _, err := svc.Propose(ctx, []signoff.Suggestion{step}); err != nil {
		t.Fatal(err)
	}
	key := step.Key()

	// Not approved: refused before any call, and recorded.
	n0 := calls.Load()
	if _, err := svc.Execute(ctx, editor, key, signoff.ExecuteRequest{Version: 1, Comment: "quick fix"}); !errors.Is(err, signoff.ErrState) {
		t.Fatalf("execute a pending step: %v, want ErrState", err)
	}
	if n := calls.Load() - n0; n != 0 {
		t.Errorf("a refused execution made %d requests to the API server", n)
	}
	d, _ := deps.Get(ctx, "payments", metav1.GetOptions{})
	if _, found, _ := unstructured.NestedString(d.Object, "spec", "template", "metadata", "annotations", actions.RestartedAtAnnotation); found {
		t.Fatal("the refused restart reached the Deployment")
	}

	// Approved: it runs.
	r, err := svc.Decide(ctx, editor, key, signoff.DecideRequest{Decision: "approve", Version: 1, Comment: "heap graph agrees"})
	if err != nil || !r.Executable {
		t.Fatalf("approve: %v %+v", err, r)
	}
	res, err := svc.Execute(ctx, admin, key, signoff.ExecuteRequest{Version: r.Version})
	if err != nil || !res.Result.OK || res.Review.Status != signoff.StatusExecuted {
		t.Fatalf("execute: %v %+v", err, res)
	}
	d, _ = deps.Get(ctx, "payments", metav1.GetOptions{})
	if at, _, _ := unstructured.NestedString(d.Object, "spec", "template", "metadata", "annotations", actions.RestartedAtAnnotation); at != "2026-12-02T05:30:00Z" {
		t.Errorf("restartedAt after the approved restart: %q", at)
	}
	es, _ := store.Entries(ctx, audit.Query{Subject: key})
	var got []string
	for _, e := range es {
		got = append(got, string(e.Action)+"/"+e.Actor.Login)
	}
	want := "propose/meshwatch refuse/eddie approve/eddie execute/ada execute-result/ada"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("trail %s, want %s", s, want)
	}
	if len(es) == 5 {
		t.Logf("refusal: %s", es[1].After)
		t.Logf("the API server's answer, recorded: %s", es[4].After)
	}
	all, _ := store.Entries(ctx, audit.Query{})
	if v := audit.Verify(all); !v.OK {
		t.Errorf("chain: %+v", v.Break)
	}
	// Executed once: a second run of the same version conflicts.
	if _, err := svc.Execute(ctx, editor, key, signoff.ExecuteRequest{Version: r.Version}); !errors.Is(err, audit.ErrConflict) {
		t.Errorf("second execute on the old version: %v", err)
	}
}

var (
	clusterRoleGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	roleBindingGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	namespaceGVR   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// applyRBAC applies deploy/'s RBAC for the plugin and returns the namespace
// and ServiceAccount its meshwatch-actions RoleBinding names.
func applyRBAC(t *testing.T, admin dynamic.Interface) (ns, saNS, saName string) {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "monitoring", "grafana", "grafana-rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var m map[string]any
		if err := k8syaml.Unmarshal([]byte(doc), &m); err != nil || len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		switch o.GetKind() {
		case "ClusterRole":
			_, err = admin.Resource(clusterRoleGVR).Create(ctx, o, metav1.CreateOptions{})
		case "RoleBinding":
			if o.GetName() == "meshwatch-actions" {
				ns = o.GetNamespace()
				subj, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				sa := subj[0].(map[string]any)
				saNS, saName = sa["namespace"].(string), sa["name"].(string)
			}
			_, _ = admin.Resource(namespaceGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": o.GetNamespace()}}}, metav1.CreateOptions{})
			_, err = admin.Resource(roleBindingGVR).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	if ns == "" {
		t.Fatal("deploy/'s RBAC has no meshwatch-actions RoleBinding")
	}
	return ns, saNS, saName
}

func waitForRBAC(t *testing.T, as dynamic.Interface, ns string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := as.Resource(actions.DeploymentResource).Namespace(ns).Get(context.Background(), "payments", metav1.GetOptions{})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ServiceAccount cannot read deployments in %s after 30 s: %v", ns, err)
		}
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
