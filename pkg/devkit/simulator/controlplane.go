package simulator

import (
	"fmt"
	"time"
)

var xdsTypes = []string{"cds", "eds", "lds", "rds"}

// controlPlane simulates istiod's xDS metrics.
type controlPlane struct {
	pod        *pod
	tl         []Label
	pushes     map[string]*metric
	rejects    map[string]*metric
	rejectNode map[string]*metric
	xds        *metric
	conv       *metric
	lastState  string
}

func (cp *controlPlane) init(e *Engine) {
	cp.pod = e.cur[e.mesh.index("istiod")]
	cp.tl = []Label{{"job", "kubernetes-pods"}, {"instance", cp.pod.ip + ":15014"}, {"namespace", IstioNamespace}, {"pod", cp.pod.name}}
	cp.pushes, cp.rejects, cp.rejectNode = map[string]*metric{}, map[string]*metric{}, map[string]*metric{}
	for _, t := range xdsTypes {
		cp.pushes[t] = e.fam("pilot_xds_pushes").metric(cp.pod, cp.labels(Label{"type", t})...)
		cp.pushes[t].set(float64(400 + 37*len(t)))
	}
	cp.xds = e.fam("pilot_xds").metric(cp.pod, cp.labels(Label{"version", IstioVersion})...)
	cp.conv = e.fam("pilot_proxy_convergence_time").metric(cp.pod, cp.tl...)
	e.fam("istio_build").metric(cp.pod, cp.labels(Label{"component", "pilot"}, Label{"tag", IstioVersion})...).set(1)
}

func (cp *controlPlane) labels(ls ...Label) []Label { return append(ls, cp.tl...) }

// proxyID is the xDS node ID of a sidecar, as pilot_xds_*_reject's node label shows it.
func proxyID(p *pod) string {
	return fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", p.ip, p.name, p.w.Namespace, p.w.Namespace)
}

func (cp *controlPlane) step(e *Engine, t0, t1 time.Time) {
	proxies, state := 0, ""
	for _, p := range e.pods {
		if p.alive && p.proxy != nil && p.proxy.running {
			proxies++
		}
		if p.alive {
			state += fmt.Sprintf("%d:%v;", p.idx, p.appUp())
		}
	}
	cp.xds.set(float64(proxies))
	pushes := poisson(e.noise, e.dt/600) // config changes: a full push every ~10 min
	for i := 0; i < pushes; i++ {
		for _, t := range xdsTypes {
			cp.pushes[t].add(float64(proxies))
		}
		for j := 0; j < proxies; j++ {
			cp.conv.observe(lognormal(e.noise, 0.08, 0.6))
		}
	}
	if cp.lastState != "" && state != cp.lastState {
		// Endpoint changes (a pod became (un)ready, came or went): EDS push.
		cp.pushes["eds"].add(float64(proxies))
		for j := 0; j < proxies; j++ {
			cp.conv.observe(lognormal(e.noise, 0.05, 0.5))
		}
	}
	cp.lastState = state
	for i := range e.effects {
		eff := &e.effects[i]
		if eff.Kind != XDSRejects {
			continue
		}
		on, _ := eff.active(t1)
		p := e.cur[e.mesh.index(eff.Target)]
		if p == nil || p.proxy == nil {
			continue
		}
		node := proxyID(p)
		g := cp.rejectNode[node]
		if !on {
			if g != nil {
				g.hidden = true
			}
			continue
		}
		if g == nil {
			g = e.fam("pilot_xds_lds_reject").metric(cp.pod, cp.labels(Label{"err", eff.Detail}, Label{"node", node})...)
			g.set(1)
			cp.rejectNode[node] = g
			e.timeline(eff.Start, "istiod: LDS pushes to %s rejected (%s)", p.name, eff.Detail)
		}
		g.hidden = false
		n := poisson(e.noise, eff.Magnitude*e.dt/60)
		if n == 0 {
			continue
		}
		r := cp.rejects["lds"]
		if r == nil {
			r = e.fam("pilot_total_xds_rejects").metric(cp.pod, cp.labels(Label{"type", "lds"})...)
			cp.rejects["lds"] = r
		}
		r.add(float64(n))
		cp.pushes["lds"].add(float64(n))
		at := t0.Add(time.Duration(e.noise.Float64() * float64(e.stepDur)))
		e.log(at, cp.pod, cp.pod.app, "warn", fmt.Sprintf("ADS:LDS: ACK ERROR %s-%d Internal:%s", node, 40+int(e.tick)%7, eff.Detail),
			map[string]any{"scope": "ads", "rejects": n})
		e.log(at.Add(3*time.Millisecond), p, p.proxy, "warn",
			"gRPC config for type.googleapis.com/envoy.config.listener.v3.Listener rejected: "+eff.Detail,
			map[string]any{"scope": "envoy config"})
	}
}
