package deploy_test

import (
	"fmt"
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
