package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The kustomizations a user applies. crds goes first (kubectl apply
// --server-side -k deploy/crds), then exactly one overlay.
const crdsDir = "crds"

var overlays = []string{"overlays/homelab", "overlays/ollama-in-cluster", "overlays/ha"}

// istioValues is istioctl's input (never applied to the cluster).
const istioValues = "istio/values.yaml"

type rendered struct {
	objs []*unstructured.Unstructured
	err  error
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]rendered{}
)

// render builds a kustomization with krusty in process, with kustomize's
// default (root-only) load restrictions, as `kubectl apply -k` does. The
// result is cached per directory; callers must not modify it (use
// DeepCopy).
func render(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	r, ok := renderCache[dir]
	if !ok {
		r.objs, r.err = renderDir(dir)
		renderCache[dir] = r
	}
	if r.err != nil {
		t.Fatalf("kustomize build %s: %v", dir, r.err)
	}
	return r.objs
}

func renderDir(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return decodeObjects(out)
}

func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 64<<10)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

func objKey(o *unstructured.Unstructured) string {
	ns := o.GetNamespace()
	if ns != "" {
		ns += "/"
	}
	return o.GetKind() + " " + ns + o.GetName()
}

// find returns the one object of kind whose name is name or, for generated
// ConfigMaps, name plus kustomize's hash suffix.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	var hits []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != kind || o.GetNamespace() != namespace {
			continue
		}
		n := o.GetName()
		if n == name || (kind == "ConfigMap" && strings.HasPrefix(n, name+"-") && len(n) == len(name)+11) {
			hits = append(hits, o)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("want one %s %s/%s, found %d", kind, namespace, name, len(hits))
	}
	return hits[0]
}

// configMapFile returns one data key of a generated ConfigMap.
func configMapFile(t testing.TB, objs []*unstructured.Unstructured, name, key string) string {
	t.Helper()
	cm := find(t, objs, "ConfigMap", "monitoring", name)
	v, ok, _ := unstructured.NestedString(cm.Object, "data", key)
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cm.GetName(), key)
	}
	return v
}

// podSpec returns the pod template spec of a workload object, or nil.
func podSpec(o *unstructured.Unstructured) (map[string]any, map[string]any) {
	var path []string
	switch o.GetKind() {
	case "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job":
		path = []string{"spec", "template"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	case "Pod":
		return o.Object["spec"].(map[string]any), map[string]any{"metadata": o.Object["metadata"]}
	default:
		return nil, nil
	}
	tmpl, ok, _ := unstructured.NestedMap(o.Object, path...)
	if !ok {
		return nil, nil
	}
	spec, _ := tmpl["spec"].(map[string]any)
	return spec, tmpl
}

type container struct {
	name string
	init bool
	m    map[string]any
}

func containers(spec map[string]any) []container {
	var out []container
	for _, f := range []string{"initContainers", "containers"} {
		list, _ := spec[f].([]any)
		for _, c := range list {
			m := c.(map[string]any)
			out = append(out, container{name: m["name"].(string), init: f == "initContainers", m: m})
		}
	}
	return out
}

func readYAMLFile(t testing.TB, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestRenderEveryKustomization builds deploy/crds and every overlay, and
// checks that no object appears twice and that every namespaced object is
// in one of the stack's namespaces.
func TestRenderEveryKustomization(t *testing.T) {
	allowedNS := map[string]bool{"istio-system": true, "monitoring": true, "shop": true}
	for _, dir := range append([]string{crdsDir}, overlays...) {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			seen := map[string]bool{}
			kinds := map[string]int{}
			for _, o := range objs {
				k := o.GetAPIVersion() + " " + objKey(o)
				if seen[k] {
					t.Errorf("duplicate object %s", k)
				}
				seen[k] = true
				kinds[o.GetKind()]++
				if ns := o.GetNamespace(); ns != "" && !allowedNS[ns] {
					t.Errorf("%s: unexpected namespace %q", objKey(o), ns)
				}
			}
			var names []string
			for k, n := range kinds {
				names = append(names, fmt.Sprintf("%s=%d", k, n))
			}
			sort.Strings(names)
			t.Logf("%s: %d objects: %s", dir, len(objs), strings.Join(names, " "))
		})
	}
}

// Every rule file written into deploy/base/monitoring/rules (not its tests/)
// must be mounted into Prometheus through the prometheus-rules ConfigMap.
func TestEveryRuleFileIsMounted(t *testing.T) {
	files, err := filepath.Glob("base/monitoring/rules/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml, _ := filepath.Glob("base/monitoring/rules/*.yml")
	files = append(files, yml...)
	for _, dir := range overlays {
		cm := find(t, render(t, dir), "ConfigMap", "monitoring", "prometheus-rules")
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		for _, f := range files {
			if _, ok := data[filepath.Base(f)]; !ok {
				t.Errorf("%s: %s is not in the prometheus-rules configMapGenerator of base/monitoring/kustomization.yaml", dir, f)
			}
		}
		for k := range data {
			if _, err := os.Stat(filepath.Join("base/monitoring/rules", k)); err != nil {
				t.Errorf("%s: prometheus-rules key %s is not a file of base/monitoring/rules", dir, k)
			}
		}
	}
	if len(files) == 0 {
		t.Log("base/monitoring/rules has no rule files yet: Prometheus starts with no rules")
	}
}
