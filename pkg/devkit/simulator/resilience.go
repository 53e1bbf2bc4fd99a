package simulator

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The mesh's resilience as each client proxy applies it: its connection
// pool to a service (the circuit breaker: EdgePolicy.MaxConcurrent), its
// outlier detection of the service's pod (EdgePolicy.Consecutive5xx), and
// the Envoy cluster stats of the outbound cluster that count its retries,
// timeouts, overflows and ejections (exported as a proxyStatsMatcher
// makes Istio export them: envoy_cluster_*, label cluster_name
// "outbound|<port>||<host>").

// cluster is one client pod's outbound cluster for one service.
type cluster struct {
	pol EdgePolicy

	rqTotal, retry, retrySuccess, retryOverflow, timeout, overflow *metric
	ejActive, ejEnforced, rqOpen, cxOpen                           *metric

	// The connection pool: calls offered and admitted this tick, the
	// admitted calls' time in ms, the mean time (smoothed over ticks) and
	// the share of calls the breaker refuses this tick.
	offered, admitted int
	durSum, meanMs    float64
	overflowP         float64

	// Outlier detection: 5xx in a row, whether the pod is ejected and
	// until when, how many times in a row it was (the ejection time's
	// multiplier), and whether a call failed this tick.
	consec    int
	ejected   bool
	until     time.Time
	ejections int
	failed    bool
}

type clusterKey struct {
	pod int
	svc string
}

// clusterService is the service whose cluster a call to service uses: the
// service itself, or for a Flagger apex under a canary the primary's or
// the canary's service its VirtualService routes to.
func (e *Engine) clusterService(service string, dst *pod) string {
	if c := e.canary; c != nil && service == c.name && !c.reverted && dst != nil && dst.w.Service != "" {
		return dst.w.Service
	}
	return service
}

// clusterName is Envoy's name of the outbound cluster of a service.
func (e *Engine) clusterName(svc string) string {
	ns, port := ShopNamespace, 8080
	if w := e.mesh.Service(svc); w != nil {
		ns, port = w.Namespace, w.Port
	}
	return "outbound|" + strconv.Itoa(port) + "||" + hostOf(svc, ns)
}

// clusterOf returns (creating it on the first call) src's cluster for a
// call to service, whose pod is dst (nil when none).
func (e *Engine) clusterOf(src, dst *pod, service string, pol EdgePolicy) *cluster {
	svc := e.clusterService(service, dst)
	k := clusterKey{src.idx, svc}
	if cl := e.clusters[k]; cl != nil {
		return cl
	}
	w := src.w
	ls := []Label{{"cluster_name", e.clusterName(svc)}, {"job", "kubernetes-pods"}, {"instance", src.ip + ":15020"},
		{"namespace", w.Namespace}, {"pod", src.name}}
	m := func(name string) *metric {
		mm := e.fam(name).metric(src, ls...)
		e.byPod[src.idx] = append(e.byPod[src.idx], mm)
		return mm
	}
	cl := &cluster{pol: pol,
		rqTotal: m("envoy_cluster_upstream_rq_total"), retry: m("envoy_cluster_upstream_rq_retry"),
		retrySuccess: m("envoy_cluster_upstream_rq_retry_success"), retryOverflow: m("envoy_cluster_upstream_rq_retry_overflow"),
		timeout: m("envoy_cluster_upstream_rq_timeout"), overflow: m("envoy_cluster_upstream_rq_pending_overflow"),
		ejActive: m("envoy_cluster_outlier_detection_ejections_active"), ejEnforced: m("envoy_cluster_outlier_detection_ejections_enforced_total"),
		rqOpen: m("envoy_cluster_circuit_breakers_default_rq_open"), cxOpen: m("envoy_cluster_circuit_breakers_default_cx_open"),
	}
	e.clusters[k] = cl
	e.clusterOrder = append(e.clusterOrder, k)
	return cl
}

// admit asks the connection pool for a call: false when the breaker
// refuses it (counted as a pending overflow).
func (cl *cluster) admit(r *rand.Rand) bool {
	if cl.pol.MaxConcurrent <= 0 {
		return true
	}
	cl.offered++
	if cl.overflowP > 0 && r.Float64() < cl.overflowP {
		cl.overflow.add(1)
		return false
	}
	return true
}

// done records an admitted call's time in the pool.
func (cl *cluster) done(ms float64) {
	cl.admitted++
	cl.durSum += ms
}

// ejectedAt reports whether the service's pod is ejected at t, re-admitting
// it once its ejection time is over.
func (cl *cluster) ejectedAt(t time.Time) bool {
	if cl.ejected && !t.Before(cl.until) {
		cl.ejected = false
		cl.ejActive.set(0)
	}
	return cl.ejected
}

// MaxEjection is Envoy's default max_ejection_time.
const MaxEjection = 5 * time.Minute

// outcome feeds outlier detection one response (failed: a 5xx or a
// timeout) at t; it ejects the pod after Consecutive5xx failures in a row.
func (cl *cluster) outcome(e *Engine, src *pod, svc string, t time.Time, failed bool) {
	if cl.pol.Consecutive5xx <= 0 {
		return
	}
	if !failed {
		cl.consec = 0
		return
	}
	cl.failed = true
	cl.consec++
	if cl.consec < cl.pol.Consecutive5xx || cl.ejected {
		return
	}
	cl.consec = 0
	cl.ejections++
	base := time.Duration(cl.pol.BaseEjectionMs * float64(time.Millisecond))
	if base <= 0 {
		base = 30 * time.Second
	}
	d := min(base*time.Duration(cl.ejections), max(MaxEjection, base))
	cl.ejected, cl.until = true, t.Add(d)
	cl.ejEnforced.add(1)
	cl.ejActive.set(1)
	e.timeline(t, "%s/%s's proxy ejects the pod of %s for %s (%d consecutive 5xx, ejection #%d)", src.w.Namespace, src.name, svc, d,
		cl.pol.Consecutive5xx, cl.ejections)
}

// resilienceTick starts a tick at t: each pool's refusal share from the
// last tick's offered calls and time in flight (Little's law: calls per
// second × seconds each holds the pool; beyond MaxConcurrent the excess
// overflows), the breakers' open gauges, ejections that ended, the
// ejection multiplier of pods that stayed healthy, and each workload's
// load amplification (requests it served per first attempt sent to it).
func (e *Engine) resilienceTick(t time.Time) {
	for _, k := range e.clusterOrder {
		cl := e.clusters[k]
		if cl.pol.MaxConcurrent > 0 {
			if cl.admitted > 0 {
				m := cl.durSum / float64(cl.admitted)
				if cl.meanMs == 0 {
					cl.meanMs = m
				}
				cl.meanMs = 0.5*cl.meanMs + 0.5*m
			}
			inflight := float64(cl.offered) / e.dt * cl.meanMs / 1000
			limit := float64(cl.pol.MaxConcurrent)
			cl.overflowP = 0
			if inflight > limit {
				cl.overflowP = 1 - limit/inflight
			}
			open := 0.0
			if inflight >= limit {
				open = 1
			}
			cl.rqOpen.set(open)
			cl.cxOpen.set(open)
			cl.offered, cl.admitted, cl.durSum = 0, 0, 0
		}
		if cl.pol.Consecutive5xx > 0 {
			cl.ejectedAt(t)
			if !cl.ejected && !cl.failed && cl.ejections > 0 {
				cl.ejections--
			}
			cl.failed = false
		}
	}
	if e.amp == nil {
		e.amp = make([]float64, len(e.mesh.Workloads))
	}
	for wi, p := range e.cur {
		a := 1.0
		if p != nil && p.firstIn > 0 {
			a = math.Max(1, p.reqIn/p.firstIn)
		}
		if e.amp[wi] == 0 {
			e.amp[wi] = a
		}
		e.amp[wi] = 0.5*e.amp[wi] + 0.5*a
	}
}

// routesReaching are the mesh's routes whose call trees call the target
// workload's service.
func routesReaching(m *Mesh, target string) []Route {
	w := m.Workload(target)
	if w == nil {
		return nil
	}
	var reaches func(calls []Call) bool
	reaches = func(calls []Call) bool {
		for _, c := range calls {
			if s := m.Service(c.Service); s == w || reaches(c.Calls) {
				return true
			}
		}
		return false
	}
	var out []Route
	for _, r := range m.Routes {
		if reaches(r.Calls) || (m.Service(m.Entry) == w) {
			out = append(out, r)
		}
	}
	return out
}

// burst sends a traffic-burst's extra requests of the tick through the
// ingress gateway, on the routes that reach its target (by weight).
func (e *Engine) burst(t0 time.Time, eff *ResolvedEffect, gw *pod, fx []fxState) {
	on, ramp := eff.active(t0)
	if !on || gw == nil {
		return
	}
	if e.burstRoutes == nil {
		e.burstRoutes = map[string][]Route{}
	}
	routes, ok := e.burstRoutes[eff.Target]
	if !ok {
		routes = routesReaching(e.mesh, eff.Target)
		e.burstRoutes[eff.Target] = routes
	}
	var total float64
	for _, r := range routes {
		total += r.Weight
	}
	if total <= 0 {
		return
	}
	for i, n := 0, poisson(e.traffic, eff.Magnitude*ramp*e.dt); i < n; i++ {
		at := t0.Add(time.Duration(e.traffic.Float64() * float64(e.stepDur)))
		x := e.traffic.Float64() * total
		route := routes[len(routes)-1]
		for _, r := range routes {
			if x < r.Weight {
				route = r
				break
			}
			x -= r.Weight
		}
		root := Call{Service: e.mesh.Entry, Method: route.Method, Path: route.Path, Calls: route.Calls, Status: route.Status, RespBytes: route.RespBytes, Prob: 1}
		e.rootRequest(at, gw, root, fx, false)
	}
}

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// overflowText is the body Envoy answers an overflowed request with.
const overflowText = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
