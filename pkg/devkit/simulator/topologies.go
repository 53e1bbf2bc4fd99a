package simulator

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// A scenario runs on the default five-service shop (DefaultMesh) unless it
// names a built-in topology (topologies/*.yaml, see Topologies) or declares
// its own mesh (Topology): namespaces, services and their workloads, the
// call graph, per-edge timeouts and retries, and which service runs under
// a Flagger canary. Every topology shares the cluster pieces: the ingress
// gateway, istiod and Flagger in istio-system on the node "homelab", and
// STRICT mTLS in every application namespace.
//
//	topology: bookstore          # a built-in topology, by name
//
//	topology:                    # or a mesh declared in the scenario
//	  namespace: travel          # the namespace of services that name none
//	  entry: web                 # what the ingress gateway routes to
//	  canary: fares              # the service under a Flagger canary
//	  services:
//	    - {name: web, calls: [fares, {service: hotels, prob: 0.5}]}
//	    - {name: fares, namespace: pricing, calls: [fares-db]}
//	    - {name: fares-db, namespace: pricing, kind: StatefulSet, protocol: tcp}
//	    - {name: hotels, latencyMs: 30}
//
// A service's calls are the call graph's edges: what it calls for every
// request it serves, in order. Routes (the requests entering through the
// gateway, by weight) can give whole call trees instead; a call in a route
// without calls of its own follows the callee's edges.

//go:embed topologies/*.yaml
var topologyFiles embed.FS

// Topology declares a mesh (see the package's topology notes above).
type Topology struct {
	// Name of the topology (built-in ones: their file name).
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Namespace is the namespace of the services that name none.
	Namespace string `json:"namespace"`
	// Host is the external host of the routes (default <namespace>.homelab.lan).
	Host string `json:"host,omitempty"`
	// Entry is the service behind the ingress gateway (default: the first).
	Entry string `json:"entry,omitempty"`
	// Canary is the service under a Flagger canary ("" = none): Flagger
	// runs its primary as <canary>-primary (the apex service selects it),
	// the target <canary> scaled to zero between rollouts, and
	// flagger-loadtester in its namespace.
	Canary string `json:"canary,omitempty"`
	// BaseRPS is the ingress rate at the daily peak (default 12 req/s).
	BaseRPS  float64       `json:"baseRPS,omitempty"`
	Services []ServiceSpec `json:"services"`
	// Routes are the requests entering through the gateway; default one
	// route, GET /, following the entry service's edges.
	Routes []Route `json:"routes,omitempty"`
}

// ServiceSpec is one service of a declared topology and the workload
// behind it (Deployment or StatefulSet, one pod, with an istio-proxy).
type ServiceSpec struct {
	Name      string `json:"name"`                // Service, workload, app label, service account and container
	Namespace string `json:"namespace,omitempty"` // default: the topology's
	Kind      string `json:"kind,omitempty"`      // Deployment (default) or StatefulSet
	Version   string `json:"version,omitempty"`   // version label (default v1)
	Protocol  string `json:"protocol,omitempty"`  // http (default) or tcp (a database its callers keep a pool to)
	Port      int    `json:"port,omitempty"`      // default 8080 (http), 5432 (tcp)
	Image     string `json:"image,omitempty"`     // default ghcr.io/homelab/<name>:<version>
	Container string `json:"container,omitempty"` // app container name (default the name)
	DBSystem  string `json:"dbSystem,omitempty"`  // a tcp service's database (default postgresql)
	// MemoryMi is the app's typical working set, MemoryLimitMi its limit
	// (defaults 80 and 256; MemoryRequestMi default 64).
	MemoryMi        float64 `json:"memoryMi,omitempty"`
	MemoryRequestMi float64 `json:"memoryRequestMi,omitempty"`
	MemoryLimitMi   float64 `json:"memoryLimitMi,omitempty"`
	CPULimit        float64 `json:"cpuLimit,omitempty"` // cores (default 0.5)
	// LatencyMs is the median time spent in the service itself (default
	// 5, 1 for tcp), LatencySigma its log-normal spread (default 0.35).
	LatencyMs    float64 `json:"latencyMs,omitempty"`
	LatencySigma float64 `json:"latencySigma,omitempty"`
	// Calls are the edges of the call graph: the calls it makes for each
	// request, in order (a name, or a Call with method, path, prob …).
	Calls []Call `json:"calls,omitempty"`
	// Policies are the VirtualService timeouts and retries of its calls,
	// by the service called.
	Policies map[string]EdgePolicy `json:"policies,omitempty"`
	// OutOfMesh marks a client without sidecar (its namespace is not
	// injected) that nothing calls and that runs only while a
	// plaintext-source effect makes it call a mesh service.
	OutOfMesh bool `json:"outOfMesh,omitempty"`
}

// UnmarshalJSON reads a call as a Call or as a bare service name.
func (c *Call) UnmarshalJSON(b []byte) error {
	if s := bytes.TrimSpace(b); len(s) > 0 && s[0] == '"' {
		var name string
		if err := json.Unmarshal(s, &name); err != nil {
			return err
		}
		*c = Call{Service: name}
		return nil
	}
	type plain Call
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*c = Call(p)
	return nil
}

// TopologyRef is a scenario's topology: the name of a built-in one, or a
// declared one. In YAML it is a string or a mapping.
type TopologyRef struct {
	Name string    // a built-in topology (Topologies)
	Spec *Topology // a declared one
}

// UnmarshalJSON reads a name or a Topology (unknown fields are errors).
func (r *TopologyRef) UnmarshalJSON(b []byte) error {
	if s := bytes.TrimSpace(b); len(s) > 0 && s[0] == '"' {
		*r = TopologyRef{}
		return json.Unmarshal(s, &r.Name)
	}
	var t Topology
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	*r = TopologyRef{Spec: &t}
	return nil
}

// MarshalJSON writes the name or the declared topology.
func (r TopologyRef) MarshalJSON() ([]byte, error) {
	if r.Spec != nil {
		return json.Marshal(r.Spec)
	}
	return json.Marshal(r.Name)
}

// Mesh builds the scenario's mesh, a fresh one each call (a run changes
// its workloads' versions): DefaultMesh without a topology.
func (s *Scenario) Mesh() (*Mesh, error) {
	if s.Topology == nil {
		return DefaultMesh(), nil
	}
	if s.Topology.Spec != nil {
		return s.Topology.Spec.Build()
	}
	return TopologyMesh(s.Topology.Name)
}

// TopologyName is the name of the mesh the scenario runs on.
func (s *Scenario) TopologyName() string {
	switch {
	case s.Topology == nil:
		return "shop"
	case s.Topology.Spec != nil && s.Topology.Spec.Name != "":
		return s.Topology.Spec.Name
	case s.Topology.Spec != nil:
		return s.Name
	}
	return s.Topology.Name
}

var builtinTopologies = sync.OnceValues(func() ([]*Topology, error) {
	names, err := fs.Glob(topologyFiles, "topologies/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Topology
	for _, n := range names {
		b, err := fs.ReadFile(topologyFiles, n)
		if err != nil {
			return nil, err
		}
		var t Topology
		if err := yaml.UnmarshalStrict(b, &t); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if want := strings.TrimSuffix(path.Base(n), ".yaml"); t.Name != want {
			return nil, fmt.Errorf("%s: name %q does not match the file name", n, t.Name)
		}
		if _, err := t.Build(); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, &t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
})

// TopologyNames lists the meshes a scenario can name: "shop" (the
// default) and the built-in topologies.
func TopologyNames() []string {
	names := []string{"shop"}
	for _, t := range Topologies() {
		names = append(names, t.Name)
	}
	return names
}

// Topologies returns (deep copies of) the built-in declared topologies,
// sorted by name. The default shop is DefaultMesh, not among them.
func Topologies() []*Topology {
	all, err := builtinTopologies()
	if err != nil {
		panic("simulator: built-in topologies are invalid: " + err.Error())
	}
	out := make([]*Topology, len(all))
	for i, t := range all {
		out[i] = t.clone()
	}
	return out
}

// TopologyMesh builds a named mesh: "shop" or a built-in topology.
func TopologyMesh(name string) (*Mesh, error) {
	if name == "shop" || name == "" {
		return DefaultMesh(), nil
	}
	for _, t := range Topologies() {
		if t.Name == name {
			return t.Build()
		}
	}
	return nil, fmt.Errorf("unknown topology %q; valid topologies: %s", name, strings.Join(TopologyNames(), ", "))
}

func (t *Topology) clone() *Topology {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	var c Topology
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// dnsLabel is a Kubernetes DNS-1035 label (Service names, namespaces).
var dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// reservedNames are the workloads every topology has.
var reservedNames = []string{"istio-ingressgateway", "istiod", "flagger", loadTesterName}

// Build validates the topology and builds its mesh.
func (t *Topology) Build() (*Mesh, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !dnsLabel.MatchString(t.Namespace) {
		fail("namespace %q is not a DNS label", t.Namespace)
	}
	if len(t.Services) == 0 {
		return nil, errors.New("a topology needs services")
	}
	specs := map[string]*ServiceSpec{}
	for i := range t.Services {
		s := &t.Services[i]
		p := fmt.Sprintf("services[%d] (%s)", i, s.Name)
		switch {
		case !dnsLabel.MatchString(s.Name) || len(s.Name) > 50:
			fail("%s: name is not a DNS label of at most 50 characters", p)
		case specs[s.Name] != nil:
			fail("%s: a second service of that name (service names are unique across namespaces)", p)
		case slices.Contains(reservedNames, s.Name) || strings.HasSuffix(s.Name, "-primary") || strings.HasSuffix(s.Name, "-canary"):
			fail("%s: the name is taken by the platform or by Flagger's naming (-primary, -canary)", p)
		}
		specs[s.Name] = s
		if s.Namespace != "" && (!dnsLabel.MatchString(s.Namespace) || s.Namespace == IstioNamespace) {
			fail("%s: namespace %q is not an application namespace", p, s.Namespace)
		}
		if s.Kind != "" && s.Kind != KindDeployment && s.Kind != KindStatefulSet {
			fail("%s: kind %q is not Deployment or StatefulSet", p, s.Kind)
		}
		if s.Protocol != "" && s.Protocol != "http" && s.Protocol != "tcp" {
			fail("%s: protocol %q is not http or tcp", p, s.Protocol)
		}
		if s.Protocol == "tcp" && (len(s.Calls) > 0 || len(s.Policies) > 0) {
			fail("%s: a tcp service makes no calls", p)
		}
		if s.Port < 0 || s.Port > 65535 {
			fail("%s: port %d", p, s.Port)
		}
		if s.OutOfMesh && (len(s.Calls) > 0 || len(s.Policies) > 0 || s.Protocol == "tcp" || s.Name == t.Entry || s.Name == t.Canary) {
			fail("%s: an out-of-mesh client makes no calls of the mesh's and serves none", p)
		}
		if limit := cmp.Or(s.MemoryLimitMi, 256); limit <= max(s.MemoryMi, s.MemoryRequestMi) {
			fail("%s: memoryLimitMi must exceed memoryMi and memoryRequestMi", p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	entry := t.Entry
	if entry == "" {
		entry = t.Services[0].Name
	}
	if s := specs[entry]; s == nil || s.Protocol == "tcp" || s.OutOfMesh {
		fail("entry %q is not an http service of the topology", entry)
	}
	if t.Canary != "" {
		if s := specs[t.Canary]; s == nil || s.Protocol == "tcp" || s.Kind == KindStatefulSet {
			fail("canary %q is not an http Deployment of the topology", t.Canary)
		}
	}
	isTCP := func(name string) bool { return specs[name] != nil && specs[name].Protocol == "tcp" }
	// Edges: every call names a service; the graph has no cycle.
	for _, s := range t.Services {
		for _, c := range s.Calls {
			if specs[c.Service] == nil {
				fail("service %s calls unknown service %q", s.Name, c.Service)
			} else if specs[c.Service].OutOfMesh {
				fail("service %s calls %s, an out-of-mesh client", s.Name, c.Service)
			}
		}
		for callee := range s.Policies {
			if !slices.ContainsFunc(s.Calls, func(c Call) bool { return c.Service == callee }) && !routesCall(t.Routes, s.Name, entry, callee) {
				fail("service %s has a policy for %q, which it does not call", s.Name, callee)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var cycle func(name string, stack []string) []string
	cycle = func(name string, stack []string) []string {
		if slices.Contains(stack, name) {
			return append(stack, name)
		}
		for _, c := range specs[name].Calls {
			if found := cycle(c.Service, append(slices.Clone(stack), name)); found != nil {
				return found
			}
		}
		return nil
	}
	for _, s := range t.Services {
		if c := cycle(s.Name, nil); c != nil {
			return nil, fmt.Errorf("the call graph has a cycle: %s", strings.Join(c, " → "))
		}
	}

	m := &Mesh{Name: t.Name, Entry: entry, Canary: t.Canary, BaseRPS: t.BaseRPS, Host: t.Host, Policies: map[string]EdgePolicy{}}
	if m.BaseRPS <= 0 {
		m.BaseRPS = 12
	}
	if m.Host == "" {
		m.Host = t.Namespace + ".homelab.lan"
	}
	m.Namespaces = []string{t.Namespace}
	nsOf := func(s *ServiceSpec) string {
		if s.Namespace == "" {
			return t.Namespace
		}
		return s.Namespace
	}
	for _, s := range t.Services {
		if ns := nsOf(&s); !s.OutOfMesh && !slices.Contains(m.Namespaces, ns) {
			m.Namespaces = append(m.Namespaces, ns)
		}
	}
	gw, istiod, flagger := platformWorkloads()
	m.Workloads = append(m.Workloads, gw)
	for i := range t.Services {
		s := &t.Services[i]
		w := s.workload(nsOf(s))
		if s.Name != t.Canary {
			m.Workloads = append(m.Workloads, w)
			continue
		}
		// Flagger's primary: a copy of the target whose app label (and
		// service) is <name>-primary; it keeps the target's service account.
		primary := *w
		primary.Name, primary.App, primary.Service = w.Name+"-primary", w.App+"-primary", w.Service+"-primary"
		w.Service, w.CanaryTarget, w.Optional = w.Name+"-canary", true, true
		m.Workloads = append(m.Workloads, &primary, w)
	}
	if t.Canary != "" {
		lt := specs[t.Canary]
		loadtester := (&ServiceSpec{Name: loadTesterName, Version: "unknown", Image: "ghcr.io/fluxcd/flagger-loadtester:0.36.0",
			MemoryMi: 24, LatencyMs: 1, LatencySigma: 0.2}).workload(nsOf(lt))
		m.Workloads = append(m.Workloads, loadtester)
	}
	m.Workloads = append(m.Workloads, istiod, flagger)

	// Routes: the declared call trees, their calls without calls of their
	// own following the callee's edges.
	var expand func(caller string, calls []Call, depth int) []Call
	expand = func(caller string, calls []Call, depth int) []Call {
		var out []Call
		for _, c := range calls {
			callee := specs[c.Service]
			if callee == nil || callee.OutOfMesh {
				fail("%s calls unknown or out-of-mesh service %q", caller, c.Service)
				continue
			}
			if c.Prob <= 0 {
				c.Prob = 1
			}
			if isTCP(c.Service) {
				c.TCP, c.Calls, c.Method, c.Path = true, nil, "", ""
				out = append(out, c)
				continue
			}
			if c.Method == "" {
				c.Method = "GET"
			}
			if c.Path == "" {
				c.Path = "/" + c.Service
			}
			if depth > 32 {
				fail("call trees deeper than 32 (a cycle through %s?)", c.Service)
				return out
			}
			if c.Calls == nil {
				c.Calls = expand(c.Service, callee.Calls, depth+1)
			} else {
				c.Calls = expand(c.Service, c.Calls, depth+1)
			}
			out = append(out, c)
		}
		return out
	}
	routes := t.Routes
	if len(routes) == 0 {
		routes = []Route{{Method: "GET", Path: "/", Weight: 1}}
	}
	for i, r := range routes {
		if r.Weight < 0 {
			fail("routes[%d]: negative weight", i)
		}
		if r.Weight == 0 {
			r.Weight = 1
		}
		if r.Method == "" {
			r.Method = "GET"
		}
		if r.Path == "" {
			r.Path = "/"
		}
		if r.Status == 0 {
			r.Status = 200
		}
		if r.RespBytes == 0 {
			r.RespBytes = 4000
		}
		if r.Calls == nil {
			r.Calls = expand(entry, specs[entry].Calls, 1)
		} else {
			r.Calls = expand(entry, r.Calls, 1)
		}
		m.Routes = append(m.Routes, r)
	}
	for _, s := range t.Services {
		for callee, p := range s.Policies {
			m.Policies[s.Name+">"+callee] = p
		}
	}
	if t.Canary != "" {
		m.CanaryLoad = canaryLoad(m, t.Canary)
		m.Policies[loadTesterName+">"+t.Canary+"-canary"] = EdgePolicy{TimeoutMs: 5000}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// routesCall reports whether a route's call tree has caller call callee.
func routesCall(routes []Route, caller, entry, callee string) bool {
	var walk func(from string, calls []Call) bool
	walk = func(from string, calls []Call) bool {
		for _, c := range calls {
			if (from == caller && c.Service == callee) || walk(c.Service, c.Calls) {
				return true
			}
		}
		return false
	}
	for _, r := range routes {
		if walk(entry, r.Calls) {
			return true
		}
	}
	return false
}

// canaryLoad is the request the load tester sends to the canary: the
// first call to it in the routes (or the first route, for the entry).
func canaryLoad(m *Mesh, canary string) Call {
	if canary == m.Entry {
		r := m.Routes[0]
		return Call{Method: r.Method, Path: r.Path, Prob: 1, RespBytes: r.RespBytes}
	}
	var found *Call
	var walk func(calls []Call)
	walk = func(calls []Call) {
		for i := range calls {
			if found != nil {
				return
			}
			if calls[i].Service == canary {
				found = &calls[i]
				return
			}
			walk(calls[i].Calls)
		}
	}
	for _, r := range m.Routes {
		walk(r.Calls)
	}
	if found == nil {
		return Call{Method: "GET", Path: "/", Prob: 1, RespBytes: 300}
	}
	return Call{Method: found.Method, Path: found.Path, Prob: 1, RespBytes: found.RespBytes}
}

// workload is the spec's workload in namespace ns, with the defaults.
func (s *ServiceSpec) workload(ns string) *Workload {
	or := func(v, def float64) float64 {
		if v == 0 {
			return def
		}
		return v
	}
	version := s.Version
	if version == "" {
		version = "v1"
	}
	w := &Workload{
		Name: s.Name, Namespace: ns, App: s.Name, Version: version, ServiceAccount: s.Name, Service: s.Name,
		Port: s.Port, Protocol: "http", Sidecar: true, Image: s.Image, Container: s.Container, Kind: s.Kind, DBSystem: s.DBSystem,
		MemRequest: or(s.MemoryRequestMi, 64) * Mi, MemLimit: or(s.MemoryLimitMi, 256) * Mi, MemBase: or(s.MemoryMi, 80) * Mi,
		CPURequest: 0.05, CPULimit: or(s.CPULimit, 0.5),
		LatencyMs: or(s.LatencyMs, 5), LatencySigma: or(s.LatencySigma, 0.35),
	}
	if s.Protocol == "tcp" {
		w.Protocol = "tcp"
		if s.LatencyMs == 0 {
			w.LatencyMs = 1
		}
	}
	if w.Port == 0 {
		w.Port = map[string]int{"http": 8080, "tcp": 5432}[w.Protocol]
	}
	if w.Image == "" {
		w.Image = "ghcr.io/homelab/" + s.Name + ":" + version
	}
	if w.Container == "" {
		w.Container = s.Name
	}
	if w.Kind == KindDeployment {
		w.Kind = ""
	}
	if s.OutOfMesh {
		w.Sidecar, w.Optional, w.Service, w.Port = false, true, "", 0
	}
	return w
}
