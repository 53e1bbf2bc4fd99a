package actions_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// rbacFile is the plugin's RBAC as deploy/ ships it.
var rbacFile = filepath.Join("..", "..", "deploy", "base", "monitoring", "grafana", "grafana-rbac.yaml")

func manifests(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 64<<10)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

var (
	nsGVR          = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	clusterRoleGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	roleBindingGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

func deployment(ns, name string) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"replicas": int64(2), "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1"}}}}},
	}}
}

// counting wraps a client config so the test sees every request made.
func counting(cfg *rest.Config, n *atomic.Int64) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) { n.Add(1); return rt.RoundTrip(r) })
	}
	return cfg
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOnTheAPIServer runs the allowlisted actions on a real kube-apiserver,
// acting as the plugin's ServiceAccount with deploy/'s RBAC: an approved
// restart patches the Deployment as kubectl does, a scale sets its
// replicas, a Deployment outside the granted namespace is forbidden by the
// server, and an action off the allowlist or out of bounds is refused with
// no request at all.
func TestOnTheAPIServer(t *testing.T) {
	k := harness.StartKube(t)
	ctx := context.Background()
	admin, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	// deploy/'s RBAC, for real; the namespace and ServiceAccount are the
	// ones its meshwatch-actions RoleBinding names.
	var watched, saNS, saName string
	for _, o := range manifests(t, rbacFile) {
		switch o.GetKind() {
		case "ClusterRole":
			_, err = admin.Resource(clusterRoleGVR).Create(ctx, o, metav1.CreateOptions{})
		case "RoleBinding":
			if o.GetName() == "meshwatch-actions" {
				watched = o.GetNamespace()
				subj, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				sa := subj[0].(map[string]any)
				saNS, saName = sa["namespace"].(string), sa["name"].(string)
			}
			if _, err := admin.Resource(nsGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": o.GetNamespace()}}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			_, err = admin.Resource(roleBindingGVR).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	if watched == "" {
		t.Fatalf("%s has no meshwatch-actions RoleBinding", rbacFile)
	}
	const other = "not-granted"
	if _, err := admin.Resource(nsGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": other}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deps := func(ns string) dynamic.ResourceInterface {
		return admin.Resource(actions.DeploymentResource).Namespace(ns)
	}
	for _, ns := range []string{watched, other} {
		if _, err := deps(ns).Create(ctx, deployment(ns, "web"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	var calls atomic.Int64
	as, err := dynamic.NewForConfig(counting(k.AsServiceAccount(saNS, saName), &calls))
	if err != nil {
		t.Fatal(err)
	}
	// The RBAC authorizer learns of the bindings from its informers.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := as.Resource(actions.DeploymentResource).Namespace(watched).Get(ctx, "web", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the ServiceAccount cannot read deployments in %s after 30 s: %v", watched, err)
		}
	}
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	x := &actions.Executor{Kube: as, Bounds: actions.DefaultBounds, Now: func() time.Time { return now }}
	before, _ := deps(watched).Get(ctx, "web", metav1.GetOptions{})

	t.Run("an approved restart patches the Deployment", func(t *testing.T) {
		res, err := x.Run(ctx, actions.Action{Kind: actions.Restart, Namespace: watched, Name: "web"})
		if err != nil || !res.OK {
			t.Fatalf("restart: %v %+v", err, res)
		}
		after, _ := deps(watched).Get(ctx, "web", metav1.GetOptions{})
		got, _, _ := unstructured.NestedString(after.Object, "spec", "template", "metadata", "annotations", actions.RestartedAtAnnotation)
		if got != "2026-12-02T05:00:00Z" || after.GetGeneration() != before.GetGeneration()+1 {
			t.Errorf("after the restart: restartedAt %q, generation %d (was %d)", got, after.GetGeneration(), before.GetGeneration())
		}
		t.Logf("restart: %s; answer %s", res.Summary, res.Answer)
	})
	t.Run("scale within bounds sets the replicas", func(t *testing.T) {
		three := int32(3)
		res, err := x.Run(ctx, actions.Action{Kind: actions.Scale, Namespace: watched, Name: "web", Replicas: &three})
		if err != nil || !res.OK {
			t.Fatalf("scale: %v %+v", err, res)
		}
		after, _ := deps(watched).Get(ctx, "web", metav1.GetOptions{})
		if r, _, _ := unstructured.NestedInt64(after.Object, "spec", "replicas"); r != 3 {
			t.Errorf("replicas after the scale: %d, want 3", r)
		}
	})
	t.Run("the API server forbids a namespace the RBAC does not grant", func(t *testing.T) {
		res, err := x.Run(ctx, actions.Action{Kind: actions.Restart, Namespace: other, Name: "web"})
		if err == nil || res.OK || res.Status != http.StatusForbidden {
			t.Fatalf("restart in %s: %v %+v, want 403", other, err, res)
		}
		t.Logf("forbidden: %s", res.Summary)
	})
	t.Run("refused before any call", func(t *testing.T) {
		rv := func() string {
			d, _ := deps(watched).Get(ctx, "web", metav1.GetOptions{})
			return d.GetResourceVersion()
		}
		was := rv()
		n0 := calls.Load()
		eleven, zero := int32(11), int32(0)
		for _, a := range []actions.Action{
			{Kind: "delete", Namespace: watched, Name: "web"},
			{Kind: actions.Scale, Namespace: watched, Name: "web", Replicas: &eleven},
			{Kind: actions.Scale, Namespace: watched, Name: "web", Replicas: &zero},
			{Kind: actions.Restart, Namespace: watched, Name: "Web_1"},
		} {
			_, err := x.Run(ctx, a)
			var r *actions.Refusal
			if !errors.As(err, &r) {
				t.Errorf("%s: err = %v, want a refusal", a, err)
			}
		}
		if n := calls.Load() - n0; n != 0 || rv() != was {
			t.Errorf("refused actions made %d requests; resourceVersion %s -> %s", n, was, rv())
		}
	})
}
