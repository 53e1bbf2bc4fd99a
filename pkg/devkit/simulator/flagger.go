package simulator

import (
	"fmt"
	"math"
	"time"
)

// CanaryAnalysis is the Flagger analysis spec of the simulated canary.
type CanaryAnalysis struct {
	Interval       time.Duration
	Threshold      int
	StepWeights    []int
	MinSuccessRate float64 // request-success-rate thresholdRange.min (%)
	MaxDurationMs  float64 // request-duration thresholdRange.max (ms, P99)
	MetricInterval time.Duration
}

// PaymentsAnalysis is the analysis the payments Canary declares.
var PaymentsAnalysis = CanaryAnalysis{
	Interval: time.Minute, Threshold: 5, StepWeights: []int{10, 25, 50},
	MinSuccessRate: 99.5, MaxDurationMs: 500, MetricInterval: time.Minute,
}

// Flagger phases.
const (
	PhaseInitialized = "Initialized"
	PhaseProgressing = "Progressing"
	PhasePromoting   = "Promoting"
	PhaseFinalising  = "Finalising"
	PhaseSucceeded   = "Succeeded"
	PhaseFailed      = "Failed"
)

// CanaryStatus mirrors Flagger's Canary .status.
type CanaryStatus struct {
	Phase              string
	CanaryWeight       int
	Iterations         int
	FailedChecks       int
	LastTransitionTime time.Time
	Message            string // the Promoted condition's message
}

type canaryTick struct {
	total, errors float64
	buckets       []uint64
}

// canaryState runs Flagger's canary scheduler against the simulated metrics.
type canaryState struct {
	spec      CanaryAnalysis
	eff       *ResolvedEffect
	wCanary   int // workload index of the canary target ("payments")
	wPrimary  int
	name, ns  string
	status    CanaryStatus
	weight    int
	nextTick  time.Time
	window    []canaryTick
	lastSR    float64
	lastP99   float64
	analysed  bool
	successes int
	failures  int
	mStatus   *metric
	mWPrimary *metric
	mWCanary  *metric
	mSR, mDur *metric
	mDuration *metric
	mSucc     *metric
	mFail     *metric
	snaps     map[*istioSeries]canarySnap
}

func newCanary(e *Engine) *canaryState {
	c := &canaryState{spec: PaymentsAnalysis, wCanary: e.mesh.index("payments"), wPrimary: e.mesh.index("payments-primary"), name: "payments", ns: ShopNamespace}
	c.status = CanaryStatus{Phase: PhaseSucceeded, LastTransitionTime: e.opts.Start.Add(-26 * time.Hour).Truncate(time.Second),
		Message: "Canary analysis completed successfully, promotion finished."}
	for i := range e.effects {
		if e.effects[i].Kind == CanaryProgression && e.effects[i].Target == "payments" {
			c.eff = &e.effects[i]
			break
		}
	}
	tl := []Label{{"job", "kubernetes-pods"}, {"instance", "10.42.0.6:8080"}}
	ftl := func(ls ...Label) []Label {
		ls = append(ls, tl...)
		return append(ls, Label{"pod", podName(e.mesh.Workload("flagger"), 0)})
	}
	e.fam("flagger_info").metric(nil, append([]Label{{"mesh_provider", "istio"}, {"version", FlaggerVersion}}, ftl(Label{"namespace", IstioNamespace})...)...).set(1)
	e.fam("flagger_canary_total").metric(nil, ftl(Label{"namespace", c.ns})...).set(1)
	c.mStatus = e.fam("flagger_canary_status").metric(nil, ftl(Label{"name", c.name}, Label{"namespace", c.ns})...)
	c.mStatus.set(1)
	c.mWPrimary = e.fam("flagger_canary_weight").metric(nil, ftl(Label{"workload", "payments-primary"}, Label{"namespace", c.ns})...)
	c.mWPrimary.set(100)
	c.mWCanary = e.fam("flagger_canary_weight").metric(nil, ftl(Label{"workload", "payments"}, Label{"namespace", c.ns})...)
	c.mSR = e.fam("flagger_canary_metric_analysis").metric(nil, ftl(Label{"metric", "request-success-rate"}, Label{"name", c.name}, Label{"namespace", c.ns})...)
	c.mDur = e.fam("flagger_canary_metric_analysis").metric(nil, ftl(Label{"metric", "request-duration"}, Label{"name", c.name}, Label{"namespace", c.ns})...)
	c.mSR.hidden, c.mDur.hidden = true, true
	c.mDuration = e.fam("flagger_canary_duration_seconds").metric(nil, ftl(Label{"name", c.name}, Label{"namespace", c.ns})...)
	strat := []Label{{"analysis_status", "completed"}, {"deployment_strategy", "canary"}, {"name", c.name}, {"namespace", c.ns}}
	c.mSucc = e.fam("flagger_canary_successes_total").metric(nil, ftl(strat...)...)
	c.mFail = e.fam("flagger_canary_failures_total").metric(nil, ftl(strat...)...)
	c.mSucc.hidden, c.mFail.hidden = true, true
	return c
}

// loadActive reports whether the load tester is driving the canary.
func (c *canaryState) loadActive() bool { return c.status.Phase == PhaseProgressing }

func (c *canaryState) event(e *Engine, t time.Time, typ, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.kubeEvent(t, "Canary", c.ns, c.name, "Synced", msg, typ, "flagger")
	level := "info"
	if typ == "Warning" {
		level = "warn"
	}
	if p := e.cur[e.mesh.index("flagger")]; p != nil {
		e.log(t, p, p.app, level, msg, map[string]any{"canary": c.name + "." + c.ns})
	}
	e.timeline(t, "flagger: %s", msg)
}

func (c *canaryState) setPhase(t time.Time, phase, message string) {
	if c.status.Phase != phase {
		c.status.LastTransitionTime = t
	}
	c.status.Phase = phase
	if message != "" {
		c.status.Message = message
	}
}

// lifecycle runs the scheduler ticks that fall in (t0, t1].
func (c *canaryState) lifecycle(e *Engine, t0, t1 time.Time) {
	if c.eff == nil {
		return
	}
	if c.status.Phase == PhaseSucceeded && !c.eff.Start.After(t1) && c.eff.Start.After(t0.Add(-e.stepDur)) && c.nextTick.IsZero() {
		t := c.eff.Start
		e.startPod(c.wCanary, t)
		c.setPhase(t, PhaseProgressing, "New revision detected, progressing canary analysis.")
		c.status.FailedChecks, c.status.Iterations, c.weight = 0, 0, 0
		c.event(e, t, "Normal", "New revision detected! Scaling up %s.%s", c.name, c.ns)
		c.nextTick = t.Add(c.spec.Interval)
	}
	for !c.nextTick.IsZero() && !c.nextTick.After(t1) {
		t := c.nextTick
		c.nextTick = t.Add(c.spec.Interval)
		c.mDuration.observe(lognormal(e.noise, 0.04, 0.5))
		c.tick(e, t)
	}
}

func (c *canaryState) tick(e *Engine, t time.Time) {
	switch c.status.Phase {
	case PhaseProgressing:
		if c.status.FailedChecks >= c.spec.Threshold {
			c.event(e, t, "Warning", "Rolling back %s.%s failed checks threshold reached %d", c.name, c.ns, c.status.FailedChecks)
			c.weight = 0
			c.event(e, t, "Warning", "Canary failed! Scaling down %s.%s", c.name, c.ns)
			c.finish(e, t, PhaseFailed, "Canary analysis failed, Deployment scaled to zero.", &c.failures, c.mFail)
			return
		}
		if c.weight == 0 {
			c.event(e, t, "Normal", "Starting canary analysis for %s.%s", c.name, c.ns)
			c.weight = c.spec.StepWeights[0]
			c.event(e, t, "Normal", "Advance %s.%s canary weight %d", c.name, c.ns, c.weight)
			return
		}
		sr, p99, ok := c.measure(e)
		c.analysed = true
		c.mSR.hidden, c.mDur.hidden = false, false
		switch {
		case !ok:
			c.status.FailedChecks++
			c.event(e, t, "Warning", "Halt advancement no values found for istio metric request-success-rate probably %s.%s is not receiving traffic: running query failed: no values found", c.name, c.ns)
			return
		case sr < c.spec.MinSuccessRate:
			c.status.FailedChecks++
			c.event(e, t, "Warning", "Halt %s.%s advancement success rate %.2f%% < %g%%", c.name, c.ns, sr, c.spec.MinSuccessRate)
			return
		case p99 > c.spec.MaxDurationMs:
			c.status.FailedChecks++
			c.event(e, t, "Warning", "Halt %s.%s advancement request duration %s > %s", c.name, c.ns,
				time.Duration(p99*float64(time.Millisecond)).Round(time.Millisecond), time.Duration(c.spec.MaxDurationMs)*time.Millisecond)
			return
		}
		maxW := c.spec.StepWeights[len(c.spec.StepWeights)-1]
		if c.weight < maxW {
			for _, w := range c.spec.StepWeights {
				if w > c.weight {
					c.weight = w
					break
				}
			}
			c.event(e, t, "Normal", "Advance %s.%s canary weight %d", c.name, c.ns, c.weight)
			return
		}
		c.event(e, t, "Normal", "Copying %s.%s template spec to %s-primary.%s", c.name, c.ns, c.name, c.ns)
		c.promotePrimary(e, t)
		c.setPhase(t, PhasePromoting, "Canary analysis completed, starting primary rolling update.")
	case PhasePromoting:
		c.event(e, t, "Normal", "Routing all traffic to primary")
		c.weight = 0
		c.setPhase(t, PhaseFinalising, "Canary analysis completed, routing all traffic to primary.")
	case PhaseFinalising:
		c.event(e, t, "Normal", "Promotion completed! Scaling down %s.%s", c.name, c.ns)
		c.finish(e, t, PhaseSucceeded, "Canary analysis completed successfully, promotion finished.", &c.successes, c.mSucc)
	}
}

// finish ends an analysis in phase: the canary Deployment scales to zero,
// the outcome's counter (and its Flagger metric) goes up and the canary
// waits for its next rollout.
func (c *canaryState) finish(e *Engine, t time.Time, phase, message string, outcomes *int, m *metric) {
	if p := e.cur[c.wCanary]; p != nil {
		e.stopPod(p, t)
	}
	c.setPhase(t, phase, message)
	*outcomes++
	m.hidden = false
	m.set(float64(*outcomes))
	c.nextTick = time.Time{}
}

// promotePrimary rolls payments-primary to the canary's version.
func (c *canaryState) promotePrimary(e *Engine, t time.Time) {
	prim := e.mesh.Workloads[c.wPrimary]
	canary := e.mesh.Workloads[c.wCanary]
	old := e.cur[c.wPrimary]
	prim.Version = canary.Version
	prim.Image = canary.Image
	e.startPod(c.wPrimary, t)
	if old != nil {
		e.stopPod(old, t)
	}
}

// measure evaluates Flagger's built-in Istio checks over the last metric
// interval: request-success-rate (% non-5xx) and request-duration (P99 ms)
// of the canary workload at the destination reporter.
func (c *canaryState) measure(e *Engine) (sr, p99 float64, ok bool) {
	n := int(c.spec.MetricInterval / e.stepDur)
	if n > len(c.window) {
		n = len(c.window)
	}
	var total, errs float64
	buckets := make([]uint64, len(istioBuckets)+1)
	for _, w := range c.window[len(c.window)-n:] {
		total += w.total
		errs += w.errors
		for i, b := range w.buckets {
			buckets[i] += b
		}
	}
	if total == 0 {
		return 0, 0, false
	}
	sr = (total - errs) / total * 100
	p99 = histogramQuantile(0.99, istioBuckets, buckets)
	c.lastSR, c.lastP99 = sr, p99
	c.mSR.set(math.Round(sr*100) / 100)
	c.mDur.set(math.Round(p99*10) / 10)
	return sr, p99, true
}

// histogramQuantile interpolates like PromQL's histogram_quantile.
func histogramQuantile(q float64, bounds []float64, counts []uint64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var cum uint64
	for i, c := range counts {
		if float64(cum+c) >= rank {
			if i == len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			if c == 0 {
				return bounds[i]
			}
			return lo + (bounds[i]-lo)*(rank-float64(cum))/float64(c)
		}
		cum += c
	}
	return bounds[len(bounds)-1]
}

// updateMetrics refreshes Flagger's gauges and the analysis window after a tick.
func (c *canaryState) updateMetrics(e *Engine) {
	// Window: the canary's destination-reporter requests during this tick.
	var tick canaryTick
	tick.buckets = make([]uint64, len(istioBuckets)+1)
	if p := e.cur[c.wCanary]; p != nil {
		for _, s := range e.destByPod[p.idx] {
			prev := c.prev(s)
			tick.total += s.req.val - prev.req
			if s.code >= 500 {
				tick.errors += s.req.val - prev.req
			}
			for i, b := range s.dur.buckets {
				tick.buckets[i] += b - prev.buckets[i]
			}
			c.remember(s)
		}
	}
	c.window = append(c.window, tick)
	if max := int(5 * time.Minute / e.stepDur); len(c.window) > max {
		c.window = c.window[len(c.window)-max:]
	}
	status := 1.0
	switch c.status.Phase {
	case PhaseProgressing:
		status = 0
	case PhaseFailed:
		status = 2
	}
	c.mStatus.set(status)
	c.mWCanary.set(float64(c.weight))
	c.mWPrimary.set(float64(100 - c.weight))
}

type canarySnap struct {
	req     float64
	buckets []uint64
}

func (c *canaryState) prev(s *istioSeries) canarySnap {
	if p, ok := c.snaps[s]; ok {
		return p
	}
	return canarySnap{buckets: make([]uint64, len(istioBuckets)+1)}
}

func (c *canaryState) remember(s *istioSeries) {
	if c.snaps == nil {
		c.snaps = map[*istioSeries]canarySnap{}
	}
	c.snaps[s] = canarySnap{req: s.req.val, buckets: append([]uint64(nil), s.dur.buckets...)}
}
