package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Envoy's default histogram buckets, which Istio's standard metrics use
// unless sidecar.istio.io/statsHistogramBuckets overrides them.
var istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Scrape-target constants of the non-simulated monitoring pods.
const (
	ksmInstance  = "10.42.0.3:8080"
	ksmPod       = "kube-state-metrics-6b8d9c7f5d-q2x7m"
	nodeInstance = "192.168.50.10:9100"
	nodePod      = "node-exporter-v9kx2"
	monitoringNS = "monitoring"
	nodeCPUs     = 4
	nodeMemTotal = 8 * Gi
)

// Engine runs one scenario tick by tick. It is not safe for concurrent use.
type Engine struct {
	opts    Options
	truth   GroundTruth
	effects []ResolvedEffect
	mesh    *Mesh
	start   time.Time
	now     time.Time
	tick    int32
	stepDur time.Duration
	dt      float64 // step in seconds
	record  bool

	traffic, noise, sample *rand.Rand
	reg                    *registry

	pods []*pod // every pod ever created
	cur  []*pod // current pod per workload index

	svcIdx    map[string]int
	svcW      map[string]*Workload // the workload behind each service
	reqSer    map[reqKey]*istioSeries
	tcpSer    map[tcpKey]*tcpSeries
	byPod     map[int][]*metric      // istio series by reporting pod (reset on proxy restart)
	destByPod map[int][]*istioSeries // destination-reporter series by destination pod
	loadAR    float64
	reqSeq    uint64
	logs      []LogEntry
	events    []*kubeEvent
	traces    *reservoir
	scratch   []spanRec

	tcpPairs []tcpPair

	// Resilience (resilience.go): each client pod's outbound clusters in
	// creation order, each workload's load amplification by retries, and
	// the routes each traffic-burst target is reached by.
	clusters     map[clusterKey]*cluster
	clusterOrder []clusterKey
	amp          []float64
	burstRoutes  map[string][]Route

	cp     controlPlane
	canary *canaryState    // nil when the mesh has no canary
	gates  map[string]bool // the load tester's gates by key (see gateKey)
	node   nodeState
}

type pod struct {
	idx        int
	w          *Workload
	wi         int
	name, ip   string
	uid        string
	version    string
	image      string
	generation int
	alive      bool
	created    time.Time
	deleted    time.Time
	app, proxy *container
	reqIn      float64 // requests served this tick
	reqOut     float64 // requests sent this tick
	firstIn    float64 // first attempts of the requests served this tick (reqIn less retries)
	phase      map[string]*metric
}

type container struct {
	name           string
	pod            *pod
	isProxy        bool
	memReq, memLim float64
	cpuReq, cpuLim float64
	base           float64
	ws             float64
	cpu            float64
	running        bool
	startedAt      time.Time
	waitUntil      time.Time
	backoff        time.Duration
	restarts       int
	lastReason     string
	leak           float64
	leakFrom       float64 // working set when the leak began
	warm           float64 // 0..1 after a (re)start

	mWS, mCPU, mRestarts, mReady *metric
	mWaiting                     *metric
	mLast                        map[string]*metric
	mAlloc, mHeap                *metric
}

// NewEngine prepares a run; nothing is simulated until Step.
func NewEngine(o Options) (*Engine, error) {
	gt, effs, o, err := resolve(o)
	if err != nil {
		return nil, err
	}
	seed := seedBits(o.Seed)
	// The generators are seeded PCGs on purpose: a run must be reproducible
	// from its seed, and nothing they draw is a secret.
	mesh, err := o.Scenario.Mesh()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts: o, truth: gt, effects: effs, mesh: mesh, start: o.Start, now: o.Start,
		stepDur: o.Step, dt: o.Step.Seconds(),
		traffic: rand.New(rand.NewPCG(seed, 0x7261666669630001)), // #nosec G404 -- deterministic simulation noise, reproducible from the seed
		noise:   rand.New(rand.NewPCG(seed, 0x6e6f697365000002)), // #nosec G404 -- deterministic simulation noise, reproducible from the seed
		sample:  rand.New(rand.NewPCG(seed, 0x73616d706c650003)), // #nosec G404 -- deterministic simulation noise, reproducible from the seed
		reg:     newRegistry(),
		reqSer:  map[reqKey]*istioSeries{}, tcpSer: map[tcpKey]*tcpSeries{}, byPod: map[int][]*metric{}, destByPod: map[int][]*istioSeries{},
		clusters: map[clusterKey]*cluster{},
		traces:   newReservoir(o.MaxTraces),
	}
	e.cur = make([]*pod, len(e.mesh.Workloads))
	e.svcIdx = map[string]int{}
	for _, s := range serviceNamesOf(e.mesh) {
		e.svcIdx[s] = len(e.svcIdx)
	}
	e.tcpPairs = tcpPairsOf(e.mesh)
	e.svcW = map[string]*Workload{}
	for s := range e.svcIdx {
		e.svcW[s] = e.mesh.Service(s)
	}
	e.declareFamilies()
	for i, w := range e.mesh.Workloads {
		if !w.Optional {
			e.startPod(i, o.Start.Add(-72*time.Hour))
		}
	}
	e.cp.init(e)
	e.node.init(e)
	if e.mesh.Canary != "" {
		e.canary = newCanary(e)
	} else {
		flaggerInfo(e)
	}
	return e, nil
}

// seedBits is the run's seed as the 64 bits the generators start from
// (its two's-complement bit pattern, so every int64 seed is a distinct one).
func seedBits(seed int64) uint64 {
	return uint64(seed) // #nosec G115 -- a bit-for-bit reinterpretation, wrapping negative seeds on purpose
}

// serviceNames are the Kubernetes services of the default mesh (destination_service_name).
var serviceNames = []string{"frontend", "api", "orders", "inventory", "payments", "payments-canary", "payments-primary", "orders-db", "istio-ingressgateway", "flagger-loadtester"}

// serviceNamesOf lists the Kubernetes services of a mesh: every workload's,
// and the canary's apex service.
func serviceNamesOf(m *Mesh) []string {
	if m.Name == "shop" {
		return serviceNames
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, w := range m.Workloads {
		if !w.Platform {
			add(w.Service)
		}
	}
	if m.Canary != "" {
		add(m.Canary)
	}
	return out
}

// tcpPair is a client workload and the TCP service it keeps a connection
// pool to (orders → orders-db), by workload index.
type tcpPair struct{ src, dst int }

// tcpPairsOf finds the TCP exchanges of the mesh's call trees, in the
// order the routes first make them.
func tcpPairsOf(m *Mesh) []tcpPair {
	var out []tcpPair
	var walk func(caller string, calls []Call)
	walk = func(caller string, calls []Call) {
		for _, c := range calls {
			if c.TCP {
				src, dst := m.Service(caller), m.Service(c.Service)
				if src == nil || dst == nil {
					continue
				}
				p := tcpPair{m.index(src.Name), m.index(dst.Name)}
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
				continue
			}
			walk(c.Service, c.Calls)
		}
	}
	for _, r := range m.Routes {
		walk(m.Entry, r.Calls)
	}
	return out
}

// Truth returns the ground truth, with the timeline so far.
func (e *Engine) Truth() GroundTruth {
	gt := e.truth
	gt.Timeline = append([]TimelineEvent(nil), e.truth.Timeline...)
	return gt
}

// Now is the simulated time reached so far.
func (e *Engine) Now() time.Time { return e.now }

// Start and End of the planned run.
func (e *Engine) Start() time.Time { return e.opts.Start }

// End of the planned run (Live keeps going past it with the effects in force).
func (e *Engine) End() time.Time { return e.opts.End }

// StepDuration is the tick interval.
func (e *Engine) StepDuration() time.Duration { return e.stepDur }

func (e *Engine) timeline(t time.Time, format string, args ...any) {
	e.truth.Timeline = append(e.truth.Timeline, TimelineEvent{Time: t, What: fmt.Sprintf(format, args...)})
}

// Step advances the simulation by one tick.
func (e *Engine) Step() {
	t0 := e.now
	t1 := t0.Add(e.stepDur)
	e.resilienceTick(t0)
	for _, p := range e.pods {
		p.reqIn, p.reqOut, p.firstIn = 0, 0, 0
	}
	e.lifecycle(t0, t1)
	e.simulateTraffic(t0)
	e.updateResources(t1)
	e.cp.step(e, t0, t1)
	e.node.step(e)
	if e.canary != nil {
		e.canary.updateMetrics(e)
	}
	e.now = t1
	e.tick++
	if e.record {
		e.reg.record(e.tick)
	}
}

// lognormal draws median × exp(sigma × N(0,1)).
func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// poisson draws a Poisson count (normal approximation above 30).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		n := math.Round(mean + math.Sqrt(mean)*r.NormFloat64())
		return int(math.Max(n, 0))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// dailyShape is the homelab's traffic shape: quiet at 04:00, busiest at 20:00 (UTC).
func dailyShape(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 0.62 + 0.38*math.Cos(2*math.Pi*(h-20)/24)
}

// ---- pods and containers ----

func (e *Engine) startPod(wi int, created time.Time) *pod {
	w := e.mesh.Workloads[wi]
	gen := 0
	for _, p := range e.pods {
		if p.wi == wi {
			gen++
		}
	}
	p := &pod{
		idx: len(e.pods), w: w, wi: wi, name: podName(w, gen), version: w.Version, image: w.Image,
		generation: gen, alive: true, created: created, phase: map[string]*metric{},
	}
	p.ip = fmt.Sprintf("10.42.%d.%d", (10+len(e.pods))/256, (10+len(e.pods))%256)
	p.uid = uid(w.Namespace, p.name)
	if w.statefulSet() { // a re-created StatefulSet pod keeps its name, not its UID
		p.uid = uid(w.Namespace, p.name, fmt.Sprint(gen))
	}
	e.pods = append(e.pods, p)
	e.cur[wi] = p
	if w.Container != "" {
		p.app = e.newContainer(p, w.Container, false, w.MemRequest, w.MemLimit, w.CPURequest, w.CPULimit, w.MemBase, created)
	}
	if w.Sidecar {
		p.proxy = e.newContainer(p, ProxyContainer, true, ProxyMemRequest, ProxyMemLimit, ProxyCPURequest, ProxyCPULimit, 30*Mi, created)
	}
	for _, ph := range []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"} {
		m := e.fam("kube_pod_status_phase").metric(p, Label{"namespace", w.Namespace}, Label{"pod", p.name}, Label{"uid", p.uid}, Label{"phase", ph},
			Label{"job", "kube-state-metrics"}, Label{"instance", ksmInstance})
		if ph == "Running" {
			m.val = 1
		}
		p.phase[ph] = m
	}
	return p
}

func (e *Engine) stopPod(p *pod, t time.Time) {
	p.alive = false
	p.deleted = t
	if e.cur[p.wi] == p {
		e.cur[p.wi] = nil
	}
}

func (e *Engine) newContainer(p *pod, name string, proxy bool, memReq, memLim, cpuReq, cpuLim, base float64, started time.Time) *container {
	c := &container{name: name, pod: p, isProxy: proxy, memReq: memReq, memLim: memLim, cpuReq: cpuReq, cpuLim: cpuLim,
		base: base, ws: base, running: true, startedAt: started, backoff: 10 * time.Second, warm: 1, mLast: map[string]*metric{}}
	w := p.w
	cad := []Label{{"container", name}, {"namespace", w.Namespace}, {"pod", p.name}, {"job", "kubernetes-nodes-cadvisor"}, {"instance", NodeName}}
	c.mWS = e.fam("container_memory_working_set_bytes").metric(p, cad...)
	c.mCPU = e.fam("container_cpu_usage_seconds_total").metric(p, cad...)
	// A long-running container has used some CPU already.
	c.cpu = 0
	ksm := func(extra ...Label) []Label {
		ls := []Label{{"namespace", w.Namespace}, {"pod", p.name}, {"uid", p.uid}, {"container", name}}
		ls = append(ls, extra...)
		return append(ls, Label{"job", "kube-state-metrics"}, Label{"instance", ksmInstance})
	}
	e.fam("kube_pod_container_resource_limits").metric(p, ksm(Label{"node", NodeName}, Label{"resource", "memory"}, Label{"unit", "byte"})...).set(memLim)
	e.fam("kube_pod_container_resource_limits").metric(p, ksm(Label{"node", NodeName}, Label{"resource", "cpu"}, Label{"unit", "core"})...).set(cpuLim)
	e.fam("kube_pod_container_resource_requests").metric(p, ksm(Label{"node", NodeName}, Label{"resource", "memory"}, Label{"unit", "byte"})...).set(memReq)
	e.fam("kube_pod_container_resource_requests").metric(p, ksm(Label{"node", NodeName}, Label{"resource", "cpu"}, Label{"unit", "core"})...).set(cpuReq)
	c.mRestarts = e.fam("kube_pod_container_status_restarts_total").metric(p, ksm()...)
	c.mReady = e.fam("kube_pod_container_status_ready").metric(p, ksm()...)
	c.mReady.set(1)
	c.mWaiting = e.fam("kube_pod_container_status_waiting_reason").metric(p, ksm(Label{"reason", "CrashLoopBackOff"})...)
	c.mWaiting.set(1)
	c.mWaiting.hidden = true
	if proxy {
		tl := []Label{{"job", "kubernetes-pods"}, {"instance", p.ip + ":15020"}, {"namespace", w.Namespace}, {"pod", p.name}}
		c.mAlloc = e.fam("envoy_server_memory_allocated").metric(p, tl...)
		c.mHeap = e.fam("envoy_server_memory_heap_size").metric(p, tl...)
		e.fam("istio_build").metric(p, append([]Label{{"component", "proxy"}, {"tag", IstioVersion}}, tl...)...).set(1)
	}
	return c
}

// crash terminates a container with reason and schedules its restart.
func (e *Engine) crash(c *container, t time.Time, reason, detail string) {
	p := c.pod
	c.running = false
	c.restarts++
	c.mRestarts.set(float64(c.restarts))
	if c.lastReason != reason {
		if old := c.mLast[c.lastReason]; old != nil {
			old.hidden = true
		}
		m := c.mLast[reason]
		if m == nil {
			m = e.fam("kube_pod_container_status_last_terminated_reason").metric(p,
				Label{"namespace", p.w.Namespace}, Label{"pod", p.name}, Label{"uid", p.uid}, Label{"container", c.name}, Label{"reason", reason},
				Label{"job", "kube-state-metrics"}, Label{"instance", ksmInstance})
			m.set(1)
			c.mLast[reason] = m
		}
		m.hidden = false
		c.lastReason = reason
	}
	if t.Sub(c.startedAt) > 10*time.Minute {
		c.backoff = 10 * time.Second
	}
	c.waitUntil = t.Add(c.backoff)
	c.mWaiting.hidden = false
	c.mReady.set(0)
	e.timeline(t, "%s/%s container %s terminated (%s), restart #%d, back-off %s", p.w.Namespace, p.name, c.name, reason, c.restarts, c.backoff)
	msg := fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.name, p.name, p.w.Namespace, p.uid)
	e.kubeEvent(t, "Pod", p.w.Namespace, p.name, "BackOff", msg, "Warning", "kubelet")
	if reason == "OOMKilled" {
		e.kubeEvent(t, "Node", "", NodeName, "OOMKilling", fmt.Sprintf("Memory cgroup out of memory: Killed process (%s) total-vm:%dkB, anon-rss:%dkB", c.name, int(c.memLim/1024*1.6), int(c.memLim/1024)), "Warning", "kernel-monitor")
	}
	if c.isProxy {
		e.log(t, p, c, "warn", "Envoy may have been out of memory killed. Check memory usage and limits.", nil)
		for _, m := range e.byPod[p.idx] {
			m.reset()
		}
	} else if detail != "" {
		e.log(t, p, c, "error", detail, map[string]any{"exit_code": exitCode(reason)})
	}
	c.backoff = min(c.backoff*2, 5*time.Minute)
}

func exitCode(reason string) int {
	if reason == "OOMKilled" {
		return 137
	}
	return 2
}

func (e *Engine) restartContainer(c *container, t time.Time) {
	c.running = true
	c.startedAt = t
	c.mWaiting.hidden = true
	c.mReady.set(1)
	c.cpu = 0
	c.mCPU.reset()
	c.leak = 0
	c.warm = 0.35
	e.kubeEvent(t, "Pod", c.pod.w.Namespace, c.pod.name, "Started", "Started container "+c.name, "Normal", "kubelet")
	if !c.isProxy {
		e.log(t, c.pod, c, "info", "starting "+c.pod.w.App+" "+c.pod.version, map[string]any{"port": c.pod.w.Port})
	}
}

// appUp reports whether the pod's app (or gateway proxy) can serve.
func (p *pod) appUp() bool {
	if p == nil || !p.alive {
		return false
	}
	if p.app != nil && !p.app.running {
		return false
	}
	return p.proxy == nil || p.proxy.running
}

// lifecycle applies container-level effects (restarts, OOM kills, optional
// pods) and the canary controller for the tick (t0, t1].
func (e *Engine) lifecycle(t0, t1 time.Time) {
	for i := range e.effects {
		eff := &e.effects[i]
		on, _ := eff.active(t1)
		switch eff.Kind {
		case Restart:
			if !on {
				continue
			}
			p := e.cur[e.mesh.index(eff.Target)]
			if p == nil {
				continue
			}
			c := e.effectContainer(p, eff)
			every := time.Duration(eff.Every)
			if every == 0 {
				every = 45 * time.Second
			}
			if c != nil && c.running && t1.Sub(maxTime(c.startedAt, eff.Start)) >= every {
				e.crash(c, t1, eff.Reason, eff.Detail)
			}
		case PlaintextSource:
			wi := e.mesh.index(eff.Source)
			if on && e.cur[wi] == nil {
				e.startPod(wi, eff.Start.Add(-30*time.Second))
				e.timeline(eff.Start, "%s/%s starts calling %s in plaintext", e.mesh.Workloads[wi].Namespace, eff.Source, eff.Target)
			}
		}
	}
	for _, p := range e.pods {
		if !p.alive {
			continue
		}
		for _, c := range []*container{p.app, p.proxy} {
			// Down for every tick whose midpoint falls in the back-off.
			if c != nil && !c.running && !t0.Add(e.stepDur/2).Before(c.waitUntil) {
				e.restartContainer(c, t0)
			}
		}
	}
	if e.canary != nil {
		e.canary.lifecycle(e, t0, t1)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e *Engine) effectContainer(p *pod, eff *ResolvedEffect) *container {
	if eff.Version != "" && p.version != eff.Version {
		return nil
	}
	if eff.Container == ProxyContainer {
		return p.proxy
	}
	if p.app == nil {
		return p.proxy
	}
	return p.app
}

// updateResources moves memory and CPU of every container for the tick.
func (e *Engine) updateResources(t time.Time) {
	for _, p := range e.pods {
		if !p.alive {
			continue
		}
		for _, c := range []*container{p.app, p.proxy} {
			if c == nil {
				continue
			}
			e.updateContainer(c, t)
		}
	}
}

func (e *Engine) updateContainer(c *container, t time.Time) {
	p := c.pod
	load := p.reqIn / e.dt
	out := p.reqOut / e.dt
	if !c.running {
		c.mWS.set(0)
		c.mCPU.set(c.cpu)
		return
	}
	// Leaks: linear growth so that Magnitude × limit is reached at the end.
	for i := range e.effects {
		eff := &e.effects[i]
		if eff.Kind != MemoryLeak || eff.Target != p.w.Name || e.effectContainer(p, eff) != c {
			continue
		}
		if on, _ := eff.active(t); on {
			if c.leakFrom == 0 {
				c.leakFrom = c.ws
			}
			span := e.opts.End.Sub(eff.Start).Seconds()
			if span < 600 {
				span = 600
			}
			slope := (eff.Magnitude*c.memLim - c.leakFrom) / span
			c.leak += math.Max(slope, 0) * e.dt * (1 + 0.05*e.noise.NormFloat64())
		}
	}
	if c.warm < 1 {
		c.warm = math.Min(1, c.warm+e.dt/120)
	}
	if c.isProxy {
		base := (24*Mi+0.15*Mi*(load+out))*c.warm + 0.3*Mi*e.noise.NormFloat64()
		heap := math.Ceil(base*1.22/Mi)*Mi + math.Ceil(c.leak/Mi)*Mi
		c.mAlloc.set(math.Round(base + c.leak))
		c.mHeap.set(heap)
		c.ws = heap + 19*Mi + 0.4*Mi*e.noise.NormFloat64()
		c.cpu += (0.003 + 0.0009*(load+out)) * e.dt * (1 + 0.1*e.noise.NormFloat64())
	} else {
		c.ws = c.base*c.warm*(1+0.015*math.Min(load, 20)) + c.leak + 0.006*c.base*e.noise.NormFloat64()
		c.cpu += (0.002 + 0.0025*load) * e.dt * (1 + 0.1*e.noise.NormFloat64())
	}
	c.ws = math.Round(math.Max(c.ws, 1*Mi))
	if c.ws >= c.memLim {
		c.ws = c.memLim
		e.crash(c, t, "OOMKilled", "")
		c.ws = 0
	}
	c.mWS.set(c.ws)
	c.mCPU.set(c.cpu)
}

// ---- node ----

type nodeState struct {
	cpu   [nodeCPUs]map[string]*metric
	avail *metric
	busy  float64
}

var cpuModes = []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}

func (n *nodeState) init(e *Engine) {
	tl := []Label{{"job", "node-exporter"}, {"instance", nodeInstance}, {"namespace", monitoringNS}, {"pod", nodePod}}
	e.fam("node_memory_MemTotal_bytes").metric(nil, tl...).set(nodeMemTotal)
	n.avail = e.fam("node_memory_MemAvailable_bytes").metric(nil, tl...)
	for i := range n.cpu {
		n.cpu[i] = map[string]*metric{}
		for _, m := range cpuModes {
			mm := e.fam("node_cpu_seconds_total").metric(nil, append([]Label{{"cpu", fmt.Sprint(i)}, {"mode", m}}, tl...)...)
			mm.val = 86400 * 3 * map[string]float64{"idle": 0.86, "user": 0.08, "system": 0.04, "iowait": 0.005, "softirq": 0.01, "irq": 0.002}[m]
			n.cpu[i][m] = mm
		}
	}
}

func (n *nodeState) step(e *Engine) {
	var ws, cores float64
	for _, p := range e.pods {
		if !p.alive {
			continue
		}
		for _, c := range []*container{p.app, p.proxy} {
			if c != nil {
				ws += c.ws
			}
		}
		cores += 0.004 + 0.0034*(p.reqIn+p.reqOut)/e.dt
	}
	avail := nodeMemTotal - 1.9*Gi - ws - 40*Mi*math.Abs(e.noise.NormFloat64())
	n.avail.set(math.Round(avail))
	busy := cores/nodeCPUs + 0.07
	for i := range n.cpu {
		j := 1 + 0.1*e.noise.NormFloat64()
		share := []struct {
			mode string
			frac float64
		}{{"user", 0.62 * busy * j}, {"system", 0.3 * busy * j}, {"iowait", 0.006}, {"softirq", 0.01 * busy}, {"irq", 0.002}}
		used := 0.0
		for _, s := range share {
			n.cpu[i][s.mode].add(s.frac * e.dt)
			used += s.frac
		}
		n.cpu[i]["idle"].add(math.Max(0, 1-used) * e.dt)
	}
}
