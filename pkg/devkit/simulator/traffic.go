package simulator

import (
	"fmt"
	"math"
	"time"
)

// fxState is the effects in force on one workload during a tick.
type fxState struct {
	latMs, latSigma float64
	errRate         float64
	errCode         int
	errDetail       string
	shed            float64
	shedDetail      string
}

// spanRec is one span of the request being simulated (times in ms from the root's start).
type spanRec struct {
	parent     int
	pod        *pod
	client     bool
	gateway    bool
	name       string
	method     string
	path       string
	peer       string // service called (client spans)
	peerNS     string // its namespace
	peerPort   int    // its port
	peerDB     string // its DBSystem (db spans)
	db         bool
	start, dur float64
	code       int
	flags      uint8
	errMsg     string
}

// reqCtx is the request being simulated.
type reqCtx struct {
	t       time.Time // root start
	traceHi uint64
	traceLo uint64
	fx      []fxState
}

func (e *Engine) tickEffects(t time.Time) []fxState {
	fx := make([]fxState, len(e.mesh.Workloads))
	for i := range e.effects {
		eff := &e.effects[i]
		on, ramp := eff.active(t)
		if !on {
			continue
		}
		wi := e.mesh.index(eff.Target)
		p := e.cur[wi]
		if p == nil || (eff.Version != "" && p.version != eff.Version) {
			continue
		}
		f := &fx[wi]
		switch eff.Kind {
		case Latency:
			f.latMs += eff.Magnitude * ramp
			f.latSigma = 0.55
		case TimeoutCascade:
			f.latMs += eff.Magnitude * ramp
			f.latSigma = 0.45
			f.shed += eff.ErrorRate * ramp
		case TrafficBurst:
			f.latMs += eff.LatencyMs * ramp
			if f.latSigma == 0 {
				f.latSigma = 0.3
			}
		case Overload:
			// More load than its callers' first attempts (their retries)
			// makes it fail more.
			a := 1.0
			if wi < len(e.amp) && e.amp[wi] > 1 {
				a = e.amp[wi]
			}
			f.shed += math.Min(0.85, eff.Magnitude*ramp*a)
			f.shedDetail = eff.Detail
			f.latMs += eff.LatencyMs * ramp
			if f.latSigma == 0 {
				f.latSigma = 0.3
			}
		case ErrorRate:
			f.errRate += eff.Magnitude * ramp
			f.errCode = eff.Code
			if f.errCode == 0 {
				f.errCode = 500
			}
			f.errDetail = eff.Detail
		}
	}
	return fx
}

// simulateTraffic runs every request that starts during the tick.
func (e *Engine) simulateTraffic(t0 time.Time) {
	fx := e.tickEffects(t0.Add(e.stepDur / 2))
	e.loadAR = 0.92*e.loadAR + 0.08*e.noise.NormFloat64()
	rate := e.mesh.BaseRPS * dailyShape(t0) * math.Exp(0.25*e.loadAR)
	gw := e.cur[e.mesh.index("istio-ingressgateway")]
	var total float64
	for _, r := range e.mesh.Routes {
		total += r.Weight
	}
	n := poisson(e.traffic, rate*e.dt)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(e.traffic.Float64() * float64(e.stepDur)))
		x := e.traffic.Float64() * total
		route := e.mesh.Routes[len(e.mesh.Routes)-1]
		for _, r := range e.mesh.Routes {
			if x < r.Weight {
				route = r
				break
			}
			x -= r.Weight
		}
		root := Call{Service: e.mesh.Entry, Method: route.Method, Path: route.Path, Calls: route.Calls, Status: route.Status, RespBytes: route.RespBytes, Prob: 1}
		e.rootRequest(at, gw, root, fx, false)
	}
	// Flagger's load tester drives the canary during an analysis.
	if e.canary != nil && e.canary.loadActive() {
		if lt := e.cur[e.mesh.index(loadTesterName)]; lt != nil {
			load := e.mesh.CanaryLoad
			load.Service = e.mesh.Canary + "-canary"
			for i, n := 0, poisson(e.traffic, 5*e.dt); i < n; i++ {
				at := t0.Add(time.Duration(e.traffic.Float64() * float64(e.stepDur)))
				e.rootRequest(at, lt, load, fx, false)
			}
		}
	}
	for i := range e.effects {
		if eff := &e.effects[i]; eff.Kind == TrafficBurst {
			e.burst(t0, eff, gw, fx)
		}
	}
	for i := range e.effects {
		eff := &e.effects[i]
		if on, _ := eff.active(t0); !on || eff.Kind != PlaintextSource {
			continue
		}
		src := e.cur[e.mesh.index(eff.Source)]
		target := e.mesh.Workload(eff.Target)
		for j, n := 0, poisson(e.traffic, eff.Magnitude*e.dt); j < n; j++ {
			at := t0.Add(time.Duration(e.traffic.Float64() * float64(e.stepDur)))
			e.rootRequest(at, src, Call{Service: target.Service, Method: "GET", Path: "/" + target.App + "/export", Prob: 1, RespBytes: 52000}, fx, true)
		}
	}
	e.tcpChurn()
}

// tcpChurn opens and closes pooled database connections.
func (e *Engine) tcpChurn() {
	for _, tp := range e.tcpPairs {
		src, dst := e.cur[tp.src], e.cur[tp.dst]
		if src == nil || dst == nil || !src.appUp() {
			continue
		}
		if _, ok := e.tcpSer[tcpKey{dest: false, srcPod: podIndex(src), dstPod: podIndex(dst)}]; !ok || src.app.startedAt.After(e.now.Add(-e.stepDur)) {
			e.recordTCP(src, dst, 0, 0, 5, 0) // pool warm-up
		}
		if n := float64(poisson(e.traffic, 5*e.dt/900)); n > 0 {
			e.recordTCP(src, dst, 0, 0, n, n) // max connection lifetime
		}
	}
}

func (e *Engine) rootRequest(at time.Time, src *pod, c Call, fx []fxState, plaintext bool) {
	e.reqSeq++
	hi := splitmix(seedBits(e.opts.Seed)*0x9e3779b97f4a7c15 + e.reqSeq)
	ctx := reqCtx{t: at, traceHi: hi, traceLo: splitmix(hi), fx: fx}
	e.scratch = e.scratch[:0]
	code, dur := e.call(&ctx, src, -1, c, 0, plaintext)
	e.traces.offer(e, &ctx, e.scratch, code, dur)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// resolveService picks the pod a call to service lands on.
func (e *Engine) resolveService(service string) *pod {
	if c := e.canary; c != nil {
		switch service {
		case c.name: // the apex service
			if c.reverted { // no Canary: the apex service selects the target's pods
				return e.cur[c.wCanary]
			}
			primary := e.cur[c.wPrimary]
			if canary := e.cur[c.wCanary]; canary != nil && c.weight > 0 && e.traffic.IntN(100) < c.weight {
				return canary
			}
			return primary
		case c.name + "-canary":
			return e.cur[c.wCanary]
		}
	}
	for i, w := range e.mesh.Workloads {
		if w.Service == service {
			return e.cur[i]
		}
	}
	return nil
}

func (e *Engine) addSpan(s spanRec) int {
	e.scratch = append(e.scratch, s)
	return len(e.scratch) - 1
}

// call simulates one call from src to a service: Istio routing, timeouts,
// retries, both reporters' metrics, and the client span.
func (e *Engine) call(ctx *reqCtx, src *pod, parent int, c Call, startMs float64, plaintext bool) (int, float64) {
	dst := e.resolveService(c.Service)
	pol := e.mesh.Policies[src.w.Name+">"+c.Service]
	tries := 1
	if pol.Attempts > 0 {
		tries += pol.Attempts
	}
	reqB := lognormal(e.traffic, 420, 0.2)
	if c.Method == "POST" {
		reqB = lognormal(e.traffic, 1400, 0.3)
	}
	span := e.addSpan(spanRec{parent: parent, pod: src, client: true, gateway: src.w.Gateway, method: c.Method, path: c.Path, peer: c.Service, start: startMs})
	svc := e.svcW[c.Service]
	e.scratch[span].peerNS, e.scratch[span].peerPort = svc.Namespace, svc.Port
	if src.w.Gateway {
		e.scratch[span].name = fmt.Sprintf("%s:%d/*", hostOf(c.Service, svc.Namespace), svc.Port)
	} else {
		e.scratch[span].name = c.Method
	}
	policy := policyMTLS
	if plaintext {
		policy = policyNone
	}
	var (
		elapsed float64
		code    int
		flags   = flagNone
		respB   float64
		target  = dst
		cl      *cluster
		tried   int
	)
	if src.w.Sidecar && !plaintext {
		cl = e.clusterOf(src, dst, c.Service, pol)
	}
	at := ctx.t.Add(msDur(startMs))
	admitted := cl == nil || cl.admit(e.traffic)
	for try := 0; try < tries; try++ {
		if !admitted {
			// The connection pool is full: the client's own proxy
			// answers at once; nothing reaches the service.
			code, flags, target = 503, flagUO, nil
			elapsed += 0.1 + 0.2*e.traffic.Float64()
			respB = float64(len(overflowText))
			break
		}
		if !dst.appUp() || (cl != nil && cl.ejectedAt(at.Add(msDur(elapsed)))) {
			code, flags, target = 503, flagUH, nil
			elapsed += 0.2 + 0.3*e.traffic.Float64()
			respB = 19 // "no healthy upstream"
			break
		}
		if cl != nil {
			cl.rqTotal.add(1)
			if try > 0 {
				cl.retry.add(1)
			}
		}
		if try == 0 {
			dst.firstIn++
		}
		tried++
		limit, perTry := math.Inf(1), false
		if pol.TimeoutMs > 0 {
			limit = pol.TimeoutMs - elapsed
		}
		if pol.PerTryMs > 0 && pol.PerTryMs < limit {
			limit, perTry = pol.PerTryMs, true
		}
		net := 0.25 + 0.3*e.traffic.Float64()
		sCode, sDur, sResp := e.serve(ctx, src, dst, span, c, startMs+elapsed+net, plaintext)
		if sDur+net > limit {
			// The client's proxy gives up; the server's proxy sees the
			// downstream disconnect.
			e.recordHTTP(true, src, dst, c.Service, 0, flagDC, policy, limit, reqB, 0)
			if cl != nil {
				cl.outcome(e, src, c.Service, at.Add(msDur(elapsed+limit)), true)
			}
			elapsed += limit
			if perTry && try < tries-1 && pol.RetryOn5xx && (pol.TimeoutMs == 0 || elapsed < pol.TimeoutMs) {
				elapsed += 25
				continue
			}
			code, flags, respB = 504, flagUT, 24 // "upstream request timeout"
			if cl != nil {
				cl.timeout.add(1)
			}
			break
		}
		e.recordHTTP(true, src, dst, c.Service, sCode, flagNone, policy, sDur, reqB, sResp)
		if cl != nil {
			cl.outcome(e, src, c.Service, at.Add(msDur(elapsed+sDur+2*net)), sCode >= 500)
		}
		elapsed += sDur + 2*net
		code, respB = sCode, sResp
		if sCode >= 500 && pol.RetryOn5xx {
			if try < tries-1 {
				elapsed += 25
				continue
			}
			flags = flagURX
		}
		break
	}
	if cl != nil && admitted {
		cl.done(elapsed)
		if tried > 1 && code < 500 {
			cl.retrySuccess.add(1)
		}
	}
	if src.w.Sidecar && !plaintext {
		e.recordHTTP(false, src, target, c.Service, code, flags, policyUnknown, elapsed, reqB, respB)
	}
	src.reqOut++
	sp := &e.scratch[span]
	sp.dur, sp.code, sp.flags = elapsed, code, flags
	return code, elapsed
}

// serve simulates the callee's work: its own time, its downstream calls in
// order (failing fast), injected errors, its log line and its server span.
func (e *Engine) serve(ctx *reqCtx, src, dst *pod, parent int, c Call, startMs float64, plaintext bool) (int, float64, float64) {
	dst.reqIn++
	w := dst.w
	f := ctx.fx[dst.wi]
	span := e.addSpan(spanRec{parent: parent, pod: dst, name: c.Method + " " + c.Path, method: c.Method, path: c.Path, start: startMs})
	if f.shed > 0 && e.traffic.Float64() < f.shed {
		dur := lognormal(e.traffic, 1.5, 0.3)
		msg := "overloaded: request queue full, shedding load"
		if f.shedDetail != "" {
			msg = f.shedDetail
		}
		e.finishServe(ctx, dst, span, c, 503, dur, msg, "")
		return 503, dur, 90
	}
	self := lognormal(e.traffic, w.LatencyMs, w.LatencySigma)
	if f.latMs > 0 {
		self += lognormal(e.traffic, f.latMs, f.latSigma)
	}
	elapsed := self * 0.3
	code := c.Status
	if code == 0 {
		code = 200
	}
	var errMsg, upstream string
	for _, ch := range c.Calls {
		if ch.Prob < 1 && e.traffic.Float64() >= ch.Prob {
			continue
		}
		if ch.TCP {
			elapsed += e.dbExchange(dst, ch.Service, span, startMs+elapsed)
			continue
		}
		cc, cd := e.call(ctx, dst, span, ch, startMs+elapsed, false)
		elapsed += cd
		if cc >= 500 {
			upstream = ch.Service
			sp := e.scratch[len(e.scratch)-1]
			for i := len(e.scratch) - 1; i > span; i-- {
				if e.scratch[i].client && e.scratch[i].parent == span {
					sp = e.scratch[i]
					break
				}
			}
			errMsg = fmt.Sprintf("%s %s: upstream %s returned %d%s", ch.Method, ch.Path, ch.Service, cc, flagText(sp.flags))
			code = 503
			if cc == 504 {
				code = 504
			}
			break
		}
	}
	elapsed += self * 0.7
	if code < 500 && f.errRate > 0 && e.traffic.Float64() < f.errRate {
		code = f.errCode
		errMsg = f.errDetail
		if errMsg == "" {
			errMsg = "internal error"
		}
	}
	resp := lognormal(e.traffic, 800, 0.25)
	if c.RespBytes > 0 {
		resp = lognormal(e.traffic, c.RespBytes, 0.25)
	}
	if code >= 500 {
		resp = lognormal(e.traffic, 90, 0.1)
	}
	e.finishServe(ctx, dst, span, c, code, elapsed, errMsg, upstream)
	return code, elapsed, math.Round(resp)
}

func flagText(f uint8) string {
	switch f {
	case flagUT:
		return " (UT: upstream request timeout)"
	case flagURX:
		return " (URX: retry limit exceeded)"
	case flagUH:
		return " (UH: no healthy upstream)"
	case flagUO:
		return " (UO: upstream overflow, circuit breaker open)"
	}
	return ""
}

func (e *Engine) finishServe(ctx *reqCtx, p *pod, span int, c Call, code int, dur float64, errMsg, upstream string) {
	sp := &e.scratch[span]
	sp.dur, sp.code, sp.errMsg = dur, code, errMsg
	if p.app == nil {
		return
	}
	level := ""
	switch {
	case code >= 500:
		level = "error"
	case code >= 400 || dur > 1000:
		level = "warn"
	case e.sample.IntN(e.opts.LogSampleEvery) == 0:
		level = "info"
	}
	if level == "" {
		return
	}
	msg := "request completed"
	switch {
	case code >= 500:
		msg = "request failed"
	case code == 404:
		msg = "not found"
	case dur > 1000:
		msg = "slow request"
	}
	fields := map[string]any{
		"method": c.Method, "route": c.Path, "status": code, "latency_ms": math.Round(dur*100) / 100,
		"trace_id": traceHex(ctx), "span_id": spanHex(ctx, span),
	}
	if errMsg != "" {
		fields["error"] = errMsg
	}
	if upstream != "" {
		fields["upstream"] = upstream
	}
	at := ctx.t.Add(time.Duration((sp.start + dur) * float64(time.Millisecond)))
	e.log(at, p, p.app, level, msg, fields)
}

// dbExchange is one query over a pooled TCP connection (orders → orders-db).
func (e *Engine) dbExchange(src *pod, service string, parent int, startMs float64) float64 {
	dst := e.resolveService(service)
	lat := lognormal(e.traffic, 1.1, 0.5)
	if dst == nil || !dst.appUp() {
		return lat
	}
	dst.reqIn++
	src.reqOut++
	e.addSpan(spanRec{parent: parent, pod: src, client: true, db: true, name: "SELECT " + src.w.App, peer: service,
		peerNS: dst.w.Namespace, peerPort: dst.w.Port, peerDB: dst.w.DBSystem, start: startMs, dur: lat})
	e.recordTCP(src, dst, math.Round(lognormal(e.traffic, 2600, 0.6)), math.Round(lognormal(e.traffic, 310, 0.3)), 0, 0)
	return lat
}
