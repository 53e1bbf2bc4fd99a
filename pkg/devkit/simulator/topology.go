package simulator

import (
	"fmt"
	"hash/fnv"
)

// Mi and Gi are binary byte units.
const (
	Mi = 1024 * 1024
	Gi = 1024 * Mi
)

// Names of the cluster pieces that every scenario shares.
const (
	ShopNamespace  = "shop"
	IstioNamespace = "istio-system"
	NodeName       = "homelab"
	ProxyContainer = "istio-proxy"
	IstioVersion   = "1.30.1"
	FlaggerVersion = "1.44.0"
	trustDomain    = "cluster.local"
)

// Workload is one Kubernetes workload of the simulated mesh: a Deployment
// with one pod, its app container and (when injected) its istio-proxy.
type Workload struct {
	Name           string // Deployment name; Istio's *_workload label
	Namespace      string
	App            string // app label; Istio's *_app label
	Version        string // version label; Istio's *_version label ("unknown" when unset)
	ServiceAccount string
	Service        string // Service that selects it ("" if none)
	Port           int
	Protocol       string // "http" or "tcp"
	Sidecar        bool   // has an injected istio-proxy container
	Gateway        bool   // an Envoy gateway: istio-proxy is its only container
	Image          string
	Container      string // app container name ("" for gateways)

	MemRequest, MemLimit float64 // app container memory, bytes
	CPURequest, CPULimit float64 // app container CPU, cores
	MemBase              float64 // typical app working set, bytes

	LatencyMs    float64 // median time spent in the service itself
	LatencySigma float64 // log-normal spread of that time

	// CanaryTarget marks the Flagger canary Deployment (targetRef); its
	// primary is Name+"-primary". Optional marks workloads that only run
	// when a scenario needs them (the canary, the plaintext client).
	CanaryTarget bool
	Optional     bool
	// Platform marks control-plane workloads (istiod, flagger) that take no
	// part in the traffic but have containers and metrics.
	Platform bool
	// Kind is the workload's controller: Deployment ("" too) or
	// StatefulSet. It decides the pod names (<name>-<rs hash>-<suffix> or
	// <name>-<ordinal>) and the objects written.
	Kind string
	// DBSystem is the database a TCP workload runs ("" = postgresql), as
	// its clients' spans name it (db.system.name).
	DBSystem string
}

// Workload kinds (Workload.Kind).
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// statefulSet reports whether the workload is a StatefulSet.
func (w *Workload) statefulSet() bool { return w.Kind == KindStatefulSet }

// Proxy resource settings of every sidecar (homelab overrides of Istio's
// defaults, see the reference: default 100m/128Mi requests, 2000m/1024Mi limits).
const (
	ProxyMemRequest = 64 * Mi
	ProxyMemLimit   = 256 * Mi
	ProxyCPURequest = 0.01
	ProxyCPULimit   = 0.5
)

// Call is one downstream call an endpoint makes, in order.
type Call struct {
	Service string `json:"service"` // Kubernetes service called
	Method  string `json:"method,omitempty"`
	Path    string `json:"path,omitempty"`
	Calls   []Call `json:"calls,omitempty"` // what the callee does for it
	// Prob is the chance the call is made (a declared topology's 0 means 1).
	Prob float64 `json:"prob,omitempty"`
	// Status the callee answers when nothing fails (0 = 200) and the
	// median size of its response body (0 = 800 bytes).
	Status    int     `json:"status,omitempty"`
	RespBytes float64 `json:"respBytes,omitempty"`
	// TCP marks a database exchange (orders → orders-db): it adds TCP bytes
	// and a client span, not an HTTP request. A declared topology sets it
	// for every call to a tcp service.
	TCP bool `json:"tcp,omitempty"`
}

// Route is one kind of request entering through the ingress gateway.
type Route struct {
	Method    string  `json:"method,omitempty"`
	Path      string  `json:"path,omitempty"`
	Weight    float64 `json:"weight,omitempty"`
	Status    int     `json:"status,omitempty"` // status the entry service answers when it does not fail (200, 404)
	Calls     []Call  `json:"calls,omitempty"`
	RespBytes float64 `json:"respBytes,omitempty"` // median response body size
}

// EdgePolicy is the VirtualService timeout and retry policy of calls from
// one workload to one service.
type EdgePolicy struct {
	TimeoutMs  float64 `json:"timeoutMs,omitempty"`  // route timeout (0 = none)
	Attempts   int     `json:"attempts,omitempty"`   // Istio retries.attempts (extra tries)
	PerTryMs   float64 `json:"perTryMs,omitempty"`   // retries.perTryTimeout (0 = none)
	RetryOn5xx bool    `json:"retryOn5xx,omitempty"` // retryOn includes 5xx
	// MaxConcurrent is the DestinationRule's connectionPool for the
	// service as the caller's proxy enforces it: the requests it lets be
	// in flight at once (http.maxRequestsPerConnection aside, about
	// tcp.maxConnections + http.http1MaxPendingRequests). A call beyond it
	// gets a fast 503 UO (upstream overflow: the circuit breaker is open)
	// from the caller's own proxy; it never reaches the service. 0 = no
	// limit (Envoy's defaults of 1024 are never reached here).
	MaxConcurrent int `json:"maxConcurrent,omitempty"`
	// Consecutive5xx is outlierDetection.consecutive5xxErrors: after that
	// many 5xx (or timeouts) in a row from the service's pod, the caller's
	// proxy ejects it for BaseEjectionMs × the times it was ejected (at
	// most 5 minutes); with the one pod ejected there is no healthy
	// upstream (503 UH). 0 = no outlier detection.
	Consecutive5xx int     `json:"consecutive5xx,omitempty"`
	BaseEjectionMs float64 `json:"baseEjectionMs,omitempty"` // default 30000 (Istio's 30s)
}

// Mesh is the static shape of the simulated cluster.
type Mesh struct {
	// Name of the topology: "shop" (DefaultMesh), a built-in one's
	// (Topologies) or a declared one's.
	Name      string
	Workloads []*Workload
	Routes    []Route
	// Policies by "sourceWorkload>service"; missing means no timeout or retry.
	Policies map[string]EdgePolicy
	// BaseRPS is the ingress request rate at the daily peak.
	BaseRPS float64
	// Namespaces are the application namespaces (istio-injection enabled,
	// a STRICT PeerAuthentication "default" each); the first is the main one.
	Namespaces []string
	// Entry is the service the ingress gateway sends every route to.
	Entry string
	// Host is the external host name of the routes (the gateway's spans).
	Host string
	// Canary is the Flagger canary target workload ("" = no canary). Its
	// primary is Canary+"-primary" (service and app label too), the
	// canary's service Canary+"-canary", and the apex service Canary
	// selects the primary's pods.
	Canary string
	// CanaryLoad is what flagger-loadtester sends to Canary+"-canary"
	// during an analysis (its Service is set by the engine).
	CanaryLoad Call
}

// DefaultMesh returns the five-service homelab mesh used by every scenario.
func DefaultMesh() *Mesh {
	shop := func(name, app, version string, port int, mem, lat, sigma float64) *Workload {
		return &Workload{
			Name: name, Namespace: ShopNamespace, App: app, Version: version,
			ServiceAccount: app, Service: app, Port: port, Protocol: "http",
			Sidecar: true, Image: fmt.Sprintf("ghcr.io/homelab/%s:%s", app, version), Container: app,
			MemRequest: 64 * Mi, MemLimit: 256 * Mi, CPURequest: 0.05, CPULimit: 0.5, MemBase: mem,
			LatencyMs: lat, LatencySigma: sigma,
		}
	}
	gw, istiod, flagger := platformWorkloads()
	frontend := shop("frontend", "frontend", "v1", 8080, 78*Mi, 6, 0.35)
	api := shop("api", "api", "v1", 8080, 112*Mi, 4, 0.35)
	orders := shop("orders", "orders", "v1", 8080, 96*Mi, 5, 0.4)
	inventory := shop("inventory", "inventory", "v1", 8080, 70*Mi, 3, 0.35)
	// Flagger's primary: a copy of the canary target whose app label is
	// rewritten to <name>-primary, so Istio reports destination_app
	// "payments-primary"; it keeps the payments service account.
	primary := shop("payments-primary", "payments-primary", "v1", 8080, 88*Mi, 18, 0.3)
	primary.ServiceAccount, primary.Container = "payments", "payments"
	primary.Image = "ghcr.io/homelab/payments:v1"
	canary := shop("payments", "payments", "v2", 8080, 90*Mi, 18, 0.3)
	canary.Service = "payments-canary"
	canary.CanaryTarget, canary.Optional = true, true
	db := shop("orders-db", "orders-db", "v1", 5432, 180*Mi, 1, 0.5)
	db.Protocol, db.Image, db.Container = "tcp", "docker.io/library/postgres:17", "postgres"
	db.MemLimit = 512 * Mi
	loadtester := shop("flagger-loadtester", "flagger-loadtester", "unknown", 8080, 24*Mi, 1, 0.2)
	loadtester.Image = "ghcr.io/fluxcd/flagger-loadtester:0.36.0"
	legacy := &Workload{
		Name: "legacy-cron", Namespace: "batch", App: "legacy-cron", Version: "unknown",
		ServiceAccount: "legacy-cron", Protocol: "http", Image: "ghcr.io/homelab/legacy-cron:2019.4",
		Container: "legacy-cron", MemRequest: 32 * Mi, MemLimit: 128 * Mi, CPURequest: 0.01, CPULimit: 0.2,
		MemBase: 40 * Mi, Optional: true,
	}
	m := &Mesh{
		Name:       "shop",
		Namespaces: []string{ShopNamespace},
		Entry:      "frontend",
		Host:       "shop.homelab.lan",
		Canary:     "payments",
		CanaryLoad: Call{Method: "POST", Path: "/charge", Prob: 1, RespBytes: 300},
		Workloads:  []*Workload{gw, frontend, api, orders, inventory, primary, canary, db, loadtester, legacy, istiod, flagger},
		BaseRPS:    12,
		Routes: []Route{
			{Method: "GET", Path: "/", Weight: 0.23, Status: 200, RespBytes: 24000},
			{Method: "GET", Path: "/products", Weight: 0.45, Status: 200, RespBytes: 9000, Calls: []Call{
				{Service: "api", Method: "GET", Path: "/api/products", Prob: 1, Calls: []Call{
					{Service: "inventory", Method: "GET", Path: "/stock", Prob: 1},
				}},
			}},
			{Method: "GET", Path: "/cart", Weight: 0.20, Status: 200, RespBytes: 3500, Calls: []Call{
				{Service: "api", Method: "GET", Path: "/api/cart", Prob: 1, Calls: []Call{
					{Service: "orders", Method: "GET", Path: "/orders", Prob: 1, Calls: []Call{
						{Service: "orders-db", TCP: true, Prob: 1},
					}},
				}},
			}},
			{Method: "POST", Path: "/checkout", Weight: 0.10, Status: 200, RespBytes: 1200, Calls: []Call{
				{Service: "api", Method: "POST", Path: "/api/checkout", Prob: 1, Calls: []Call{
					{Service: "inventory", Method: "POST", Path: "/stock/reserve", Prob: 1},
					{Service: "payments", Method: "POST", Path: "/charge", Prob: 1},
					{Service: "orders", Method: "POST", Path: "/orders", Prob: 1, Calls: []Call{
						{Service: "orders-db", TCP: true, Prob: 1},
					}},
				}},
			}},
			{Method: "GET", Path: "/favicon.png", Weight: 0.02, Status: 404, RespBytes: 150},
		},
		Policies: map[string]EdgePolicy{
			// The frontend's budget for api is shorter than api's own budget
			// for its dependencies: the classic inverted-timeout cascade.
			"frontend>api":                       {TimeoutMs: 1000},
			"api>inventory":                      {TimeoutMs: 1500, Attempts: 2, PerTryMs: 600, RetryOn5xx: true},
			"api>orders":                         {TimeoutMs: 1500, Attempts: 2, PerTryMs: 600, RetryOn5xx: true},
			"api>payments":                       {TimeoutMs: 2000},
			"flagger-loadtester>payments-canary": {TimeoutMs: 5000},
		},
	}
	return m
}

// Service returns the workload a Kubernetes service of the mesh selects
// (the canary's apex and canary services: the canary target), or nil.
func (m *Mesh) Service(name string) *Workload {
	if m.Canary != "" && (name == m.Canary || name == m.Canary+"-canary") {
		return m.Workload(m.Canary)
	}
	for _, w := range m.Workloads {
		if w.Service == name {
			return w
		}
	}
	return nil
}

// platformWorkloads are the ingress gateway, istiod and Flagger, which
// every topology shares (in istio-system).
func platformWorkloads() (gw, istiod, flagger *Workload) {
	gw = &Workload{
		Name: "istio-ingressgateway", Namespace: IstioNamespace, App: "istio-ingressgateway", Version: "unknown",
		ServiceAccount: "istio-ingressgateway-service-account", Service: "istio-ingressgateway", Port: 8080,
		Protocol: "http", Sidecar: true, Gateway: true, Image: "docker.io/istio/proxyv2:" + IstioVersion,
		LatencyMs: 0.4, LatencySigma: 0.3,
	}
	istiod = &Workload{
		Name: "istiod", Namespace: IstioNamespace, App: "istiod", Version: "unknown", ServiceAccount: "istiod",
		Service: "istiod", Port: 15010, Image: "docker.io/istio/pilot:" + IstioVersion, Container: "discovery",
		MemRequest: 128 * Mi, MemLimit: 512 * Mi, CPURequest: 0.05, CPULimit: 1, MemBase: 150 * Mi, Platform: true,
	}
	flagger = &Workload{
		Name: "flagger", Namespace: IstioNamespace, App: "flagger", Version: "unknown", ServiceAccount: "flagger",
		Service: "flagger", Port: 8080, Image: "ghcr.io/fluxcd/flagger:" + FlaggerVersion, Container: "flagger",
		MemRequest: 32 * Mi, MemLimit: 512 * Mi, CPURequest: 0.01, CPULimit: 1, MemBase: 38 * Mi, Platform: true,
	}
	return gw, istiod, flagger
}

// Workload returns the named workload or nil.
func (m *Mesh) Workload(name string) *Workload {
	for _, w := range m.Workloads {
		if w.Name == name {
			return w
		}
	}
	return nil
}

func (m *Mesh) index(name string) int {
	for i, w := range m.Workloads {
		if w.Name == name {
			return i
		}
	}
	return -1
}

// Principal is the SPIFFE identity Istio gives the workload's service account.
func (w *Workload) Principal() string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, w.Namespace, w.ServiceAccount)
}

// hostOf is the FQDN of a Kubernetes service.
func hostOf(service, namespace string) string {
	return service + "." + namespace + ".svc.cluster.local"
}

// stableHash is a deterministic 64-bit hash of its parts.
func stableHash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// kubeSuffix renders n characters of a hash in Kubernetes' safe alphabet.
func kubeSuffix(h uint64, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[h%uint64(len(alphabet))]
		h /= uint64(len(alphabet))
		if h == 0 {
			h = stableHash(string(b[:i+1]))
		}
	}
	return string(b)
}

// podName builds the pod name Kubernetes gives: <name>-<rs hash>-<suffix>
// for a Deployment, <name>-<ordinal> for a StatefulSet (one replica, so
// ordinal 0, the same name when the pod is re-created).
func podName(w *Workload, generation int) string {
	if w.statefulSet() {
		return w.Name + "-0"
	}
	h := stableHash(w.Namespace, w.Name, w.Version, fmt.Sprint(generation))
	return w.Name + "-" + kubeSuffix(h, 10) + "-" + kubeSuffix(h>>17^0x9e3779b97f4a7c15, 5)
}

// uid renders a deterministic RFC 4122-looking UID from its parts.
func uid(parts ...string) string {
	a := stableHash(parts...)
	b := stableHash(append(parts, "uid")...)
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0xfff, b&0xffffffffffff)
}
