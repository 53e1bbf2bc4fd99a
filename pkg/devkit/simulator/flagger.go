package simulator

import (
	"fmt"
	"math"
	"slices"
	"strings"
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

// PaymentsAnalysis is the analysis the payments Canary declares (and the
// Canary of every other topology).
var PaymentsAnalysis = CanaryAnalysis{
	Interval: time.Minute, Threshold: 5, StepWeights: []int{10, 25, 50},
	MinSuccessRate: 99.5, MaxDurationMs: 500, MetricInterval: time.Minute,
}

// Flagger phases (a Canary's status.phase), named as Flagger v1.44 names
// them (pkg/apis/flagger/v1beta1/status.go).
const (
	// PhaseInitializing: the Canary was created; Flagger is creating the
	// primary Deployment and waits for it to be ready.
	PhaseInitializing = "Initializing"
	// PhaseInitialized: the primary serves all traffic, the target is scaled
	// to zero; Flagger waits for a new revision.
	PhaseInitialized = "Initialized"
	// PhaseWaiting: a new revision waits for a confirm-rollout gate to open.
	PhaseWaiting = "Waiting"
	// PhaseProgressing: the analysis runs and the canary weight steps up.
	PhaseProgressing = "Progressing"
	// PhaseWaitingPromotion: the analysis passed at the maximum weight and a
	// confirm-promotion gate is closed; the checks keep running (and can
	// still roll back) while the traffic split stays where it is.
	PhaseWaitingPromotion = "WaitingPromotion"
	// PhasePromoting: the primary is being rolled to the canary's spec.
	PhasePromoting = "Promoting"
	// PhaseFinalising: all traffic is back on the (promoted) primary.
	PhaseFinalising = "Finalising"
	// PhaseSucceeded: promotion finished, the canary is scaled to zero.
	PhaseSucceeded = "Succeeded"
	// PhaseFailed: the analysis rolled back, the canary is scaled to zero.
	PhaseFailed = "Failed"
	// PhaseTerminating: the Canary was deleted and Flagger's finalizer
	// (revertOnDeletion) reverts the target and the routing.
	PhaseTerminating = "Terminating"
	// PhaseTerminated: the revert is done and the Canary is gone.
	PhaseTerminated = "Terminated"
)

// Phases lists every Flagger phase, in the order a rollout meets them.
var Phases = []string{PhaseInitializing, PhaseInitialized, PhaseWaiting, PhaseProgressing, PhaseWaitingPromotion,
	PhasePromoting, PhaseFinalising, PhaseSucceeded, PhaseFailed, PhaseTerminating, PhaseTerminated}

// Flagger webhook types that the simulated load tester gates (Effect.Gates).
const (
	// GateConfirmRollout holds a new revision in Waiting until the load
	// tester's gate (/gate/check) of the canary is open.
	GateConfirmRollout = "confirm-rollout"
	// GateConfirmPromotion holds an analysed canary in WaitingPromotion until
	// the load tester's gate (/gate/check) of the canary is open.
	GateConfirmPromotion = "confirm-promotion"
	// GateRollback rolls the canary back (Progressing or WaitingPromotion)
	// as soon as the load tester's rollback gate (/rollback/check) is open.
	GateRollback = "rollback"
)

var gateTypes = []string{GateConfirmRollout, GateConfirmPromotion, GateRollback}

// loadTesterName is the Deployment (and Service) of Flagger's load tester,
// in the canary's namespace.
const loadTesterName = "flagger-loadtester"

// gateURL is where each gate webhook of the simulated Canary points: one
// gate per canary for both confirmations, another for rollbacks, as in
// Flagger's load tester (in namespace ns).
func gateURL(gate, ns string) string {
	if gate == GateRollback {
		return "http://" + loadTesterName + "." + ns + "/rollback/check"
	}
	return "http://" + loadTesterName + "." + ns + "/gate/check"
}

// CanaryStatus mirrors Flagger's Canary .status.
type CanaryStatus struct {
	Phase string
	// CanaryWeight is status.canaryWeight as Flagger writes it: the weight
	// after each advance, zeroed when it enters a phase other than
	// Progressing, Waiting or Promoting. While WaitingPromotion it reads 0
	// although the routing (flagger_canary_weight) keeps the canary's share.
	CanaryWeight int
	// Iterations is status.iterations; Flagger sets it to the analysis'
	// iterations - 1 (-1 for a canary strategy) while WaitingPromotion.
	Iterations         int
	FailedChecks       int
	LastTransitionTime time.Time
	Message            string // the Promoted condition's message
}

// promotedCondition is the Promoted condition Flagger writes for a phase
// (pkg/canary/status.go MakeStatusConditions): status and message.
func promotedCondition(phase string) (status, message string) {
	switch phase {
	case PhaseInitialized:
		return "True", "Deployment initialization completed."
	case PhaseWaiting, PhaseWaitingPromotion:
		return "Unknown", "Waiting for approval."
	case PhaseProgressing:
		return "Unknown", "New revision detected, progressing canary analysis."
	case PhasePromoting:
		return "Unknown", "Canary analysis completed, starting primary rolling update."
	case PhaseFinalising:
		return "Unknown", "Canary analysis completed, routing all traffic to primary."
	case PhaseSucceeded:
		return "True", "Canary analysis completed successfully, promotion finished."
	case PhaseFailed:
		return "False", "Canary analysis failed, Deployment scaled to zero."
	}
	// Initializing, and the phases MakeStatusConditions has no case for
	// (Terminating, Terminated), get its defaults.
	return "Unknown", "New Deployment detected, starting initialization."
}

// statusValue is flagger_canary_status for a phase (Flagger's
// Recorder.SetStatus): 0 running, 2 failed, 1 for everything else.
func statusValue(phase string) float64 {
	switch phase {
	case PhaseProgressing:
		return 0
	case PhaseFailed:
		return 2
	}
	return 1
}

type canaryTick struct {
	total, errors float64
	buckets       []uint64
}

// canaryState runs Flagger's canary scheduler (pkg/controller/scheduler.go
// advanceCanary, the finalizer and the load tester's gates) against the
// simulated metrics.
type canaryState struct {
	spec      CanaryAnalysis
	eff       *ResolvedEffect
	gates     []string // gate webhooks of the Canary (the effect's Gates)
	wCanary   int      // workload index of the canary target (Mesh.Canary, "payments")
	wPrimary  int
	name, ns  string
	status    CanaryStatus
	weight    int // the route's canary weight: traffic and flagger_canary_weight follow it
	nextTick  time.Time
	window    []canaryTick
	lastSR    float64
	lastP99   float64
	analysed  bool
	successes int
	failures  int
	// detected: the effect's new revision was seen; revision: it awaits
	// the scheduler (shouldAdvance) in an idle phase.
	detected, revision bool
	// deleteAt, createAt: a DeleteCanary or CreateCanary to carry out.
	deleteAt, createAt time.Time
	// reverted: the finalizer routed the apex service back to the target
	// (the Canary is gone or not yet initialized).
	reverted  bool
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
	name := e.mesh.Canary
	c := &canaryState{spec: PaymentsAnalysis, wCanary: e.mesh.index(name), wPrimary: e.mesh.index(name + "-primary"), name: name, ns: e.mesh.Workload(name).Namespace}
	c.status = CanaryStatus{Phase: PhaseSucceeded, LastTransitionTime: e.opts.Start.Add(-26 * time.Hour).Truncate(time.Second)}
	_, c.status.Message = promotedCondition(PhaseSucceeded)
	for i := range e.effects {
		if e.effects[i].Kind == CanaryProgression && e.effects[i].Target == name {
			c.eff = &e.effects[i]
			for _, g := range gateTypes {
				if slices.Contains(c.eff.Gates, g) {
					c.gates = append(c.gates, g)
				}
			}
			break
		}
	}
	ftl := flaggerTargetLabels(e)
	flaggerInfo(e)
	e.fam("flagger_canary_total").metric(nil, ftl(Label{"namespace", c.ns})...).set(1)
	c.mStatus = e.fam("flagger_canary_status").metric(nil, ftl(Label{"name", c.name}, Label{"namespace", c.ns})...)
	c.mStatus.set(statusValue(c.status.Phase))
	c.mWPrimary = e.fam("flagger_canary_weight").metric(nil, ftl(Label{"workload", name + "-primary"}, Label{"namespace", c.ns})...)
	c.mWPrimary.set(100)
	c.mWCanary = e.fam("flagger_canary_weight").metric(nil, ftl(Label{"workload", name}, Label{"namespace", c.ns})...)
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

// flaggerTargetLabels returns a function that appends the labels of
// Flagger's scrape target (job, instance, pod) to a series' own.
func flaggerTargetLabels(e *Engine) func(ls ...Label) []Label {
	tl := []Label{{"job", "kubernetes-pods"}, {"instance", "10.42.0.6:8080"}}
	return func(ls ...Label) []Label {
		ls = append(ls, tl...)
		return append(ls, Label{"pod", podName(e.mesh.Workload("flagger"), 0)})
	}
}

// flaggerInfo registers flagger_info, which Flagger exports with or
// without canaries.
func flaggerInfo(e *Engine) {
	ftl := flaggerTargetLabels(e)
	e.fam("flagger_info").metric(nil, append([]Label{{"mesh_provider", "istio"}, {"version", FlaggerVersion}}, ftl(Label{"namespace", IstioNamespace})...)...).set(1)
}

// loadActive reports whether the load tester is driving the canary: its
// rollout webhook runs with every analysis, which goes on while the
// promotion waits for approval.
func (c *canaryState) loadActive() bool {
	return c.status.Phase == PhaseProgressing || c.status.Phase == PhaseWaitingPromotion
}

// exists reports whether the Canary object exists (it is gone once Terminated).
func (c *canaryState) exists() bool { return c.status.Phase != PhaseTerminated }

// idle reports whether no analysis is under way: Flagger only looks for a
// new revision of the target.
func (c *canaryState) idle() bool {
	switch c.status.Phase {
	case PhaseInitialized, PhaseSucceeded, PhaseFailed:
		return true
	}
	return false
}

// hasGate reports whether the Canary declares a webhook of type typ.
func (c *canaryState) hasGate(typ string) bool { return slices.Contains(c.gates, typ) }

func (c *canaryState) event(e *Engine, t time.Time, typ, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.record(e, t, typ, msg)
	e.timeline(t, "flagger: %s", msg)
}

// record writes a Flagger event (and its log line) that is no transition,
// so stays out of the ground truth's timeline.
func (c *canaryState) record(e *Engine, t time.Time, typ, msg string) {
	e.kubeEvent(t, "Canary", c.ns, c.name, "Synced", msg, typ, "flagger")
	level := "info"
	if typ == "Warning" {
		level = "warn"
	}
	if p := e.cur[e.mesh.index("flagger")]; p != nil {
		e.log(t, p, p.app, level, msg, map[string]any{"canary": c.name + "." + c.ns})
	}
}

// setPhase writes status.phase the way Flagger's setStatusPhase does: the
// Promoted condition follows the phase, and entering a phase other than
// Progressing, Waiting or Promoting zeroes status.canaryWeight and
// status.iterations (iterations - 1 for WaitingPromotion).
func (c *canaryState) setPhase(t time.Time, phase string) {
	if c.status.Phase != phase {
		c.status.LastTransitionTime = t
	}
	c.status.Phase = phase
	_, c.status.Message = promotedCondition(phase)
	switch phase {
	case PhaseProgressing, PhaseWaiting, PhasePromoting:
	case PhaseWaitingPromotion:
		c.status.CanaryWeight, c.status.Iterations = 0, -1
	default:
		c.status.CanaryWeight, c.status.Iterations = 0, 0
	}
}

// reportStatus sets flagger_canary_status where Flagger calls SetStatus.
func (c *canaryState) reportStatus(phase string) { c.mStatus.set(statusValue(phase)) }

// gateOpen asks the load tester's gate of this canary, as the webhook does.
func (c *canaryState) gateOpen(e *Engine, t time.Time, rollback bool) bool {
	key := c.name + "." + c.ns
	open := e.gateOpen(key, rollback)
	msg := fmt.Sprintf("%s gate check: approved %v", key, open)
	if rollback {
		msg = fmt.Sprintf("rollback.%s rollback check: approved %v", key, open)
	}
	e.loadTesterLog(t, msg)
	return open
}

// lifecycle runs the scheduler ticks that fall in (t0, t1], and the
// deletion or re-creation of the Canary asked for since the last step.
func (c *canaryState) lifecycle(e *Engine, t0, t1 time.Time) {
	if c.status.Phase == PhaseTerminating {
		c.finalized(e, t0) // the target became ready during the last step
	}
	if !c.deleteAt.IsZero() && !c.deleteAt.After(t1) {
		c.terminating(e, maxTime(c.deleteAt, t0))
		c.deleteAt = time.Time{}
	}
	if !c.createAt.IsZero() && !c.createAt.After(t1) {
		c.initializing(e, maxTime(c.createAt, t0))
		c.createAt = time.Time{}
	}
	if c.eff != nil && !c.detected && !c.eff.Start.After(t1) && c.eff.Start.After(t0.Add(-e.stepDur)) {
		// Flagger's scheduler sees the new revision of the target.
		c.detected, c.revision = true, true
		if c.idle() && c.nextTick.IsZero() {
			c.run(e, c.eff.Start)
		}
	}
	for !c.nextTick.IsZero() && !c.nextTick.After(t1) {
		t := c.nextTick
		c.nextTick = t.Add(c.spec.Interval)
		c.mDuration.observe(lognormal(e.noise, 0.04, 0.5))
		c.tick(e, t)
		if c.idle() || !c.exists() {
			c.nextTick = time.Time{}
		}
	}
}

// run is a scheduler run outside the analysis ticks (a revision seen, the
// job of a new Canary starting): one tick now, the next ones every interval
// while there is something to do.
func (c *canaryState) run(e *Engine, t time.Time) {
	c.tick(e, t)
	if !c.idle() && c.exists() {
		c.nextTick = t.Add(c.spec.Interval)
	}
}

// tick is one run of Flagger's advanceCanary for the Canary.
func (c *canaryState) tick(e *Engine, t time.Time) {
	switch c.status.Phase {
	case PhaseTerminating, PhaseTerminated:
		return
	case PhaseInitializing:
		c.initialize(e, t)
		return
	case PhaseInitialized, PhaseSucceeded, PhaseFailed, PhaseWaiting:
		// checkCanaryStatus: nothing to do without a new revision; with one,
		// the confirm-rollout gate decides when the analysis starts.
		c.reportStatus(c.status.Phase)
		if !c.revision && c.status.Phase != PhaseWaiting {
			return
		}
		if c.hasGate(GateConfirmRollout) {
			if !c.gateOpen(e, t, false) {
				if c.status.Phase != PhaseWaiting {
					c.setPhase(t, PhaseWaiting)
					c.event(e, t, "Warning", "Halt %s.%s advancement waiting for approval %s", c.name, c.ns, GateConfirmRollout)
				}
				return
			}
			c.event(e, t, "Normal", "Confirm-rollout check %s passed", GateConfirmRollout)
		}
		c.startAnalysis(e, t)
		return
	}
	// Progressing, WaitingPromotion, Promoting, Finalising.
	c.reportStatus(c.status.Phase)
	analysing := c.status.Phase == PhaseProgressing || c.status.Phase == PhaseWaitingPromotion
	if analysing && c.hasGate(GateRollback) {
		if c.gateOpen(e, t, true) {
			c.event(e, t, "Warning", "Rollback check %s passed", GateRollback)
			c.event(e, t, "Warning", "Rolling back %s.%s manual webhook invoked", c.name, c.ns)
			c.rollback(e, t)
			return
		}
		c.record(e, t, "Normal", fmt.Sprintf("Rollback hook %s not signaling a rollback", GateRollback))
	}
	switch c.status.Phase {
	case PhasePromoting:
		c.event(e, t, "Normal", "Routing all traffic to primary")
		c.weight = 0
		c.setPhase(t, PhaseFinalising)
		return
	case PhaseFinalising:
		c.event(e, t, "Normal", "Promotion completed! Scaling down %s.%s", c.name, c.ns)
		c.finish(e, t, PhaseSucceeded, &c.successes, c.mSucc)
		return
	}
	if c.status.FailedChecks >= c.spec.Threshold {
		c.rollback(e, t)
		return
	}
	if c.weight == 0 && c.status.Iterations == 0 {
		c.event(e, t, "Normal", "Starting canary analysis for %s.%s", c.name, c.ns)
	} else if !c.analyse(e, t) {
		c.status.FailedChecks++
		return
	}
	c.advance(e, t)
}

// startAnalysis begins the analysis of a new revision: the target scales up
// and the status resets to Progressing (Flagger's checkCanaryStatus).
func (c *canaryState) startAnalysis(e *Engine, t time.Time) {
	c.revision = false
	c.event(e, t, "Normal", "New revision detected! Scaling up %s.%s", c.name, c.ns)
	if c.eff != nil && c.eff.Version != "" {
		c.setTargetVersion(e, c.eff.Version)
	}
	if e.cur[c.wCanary] == nil {
		e.startPod(c.wCanary, t)
	}
	c.setPhase(t, PhaseProgressing)
	c.status.FailedChecks, c.status.Iterations, c.status.CanaryWeight, c.weight = 0, 0, 0, 0
	c.reportStatus(PhaseProgressing)
}

// analyse runs the rollout webhooks (the load test) and the built-in
// metric checks; false halts the advancement with a failed check.
func (c *canaryState) analyse(e *Engine, t time.Time) bool {
	sr, p99, ok := c.measure(e)
	c.analysed = true
	c.mSR.hidden, c.mDur.hidden = false, false
	switch {
	case !ok:
		c.event(e, t, "Warning", "Halt advancement no values found for istio metric request-success-rate probably %s.%s is not receiving traffic: running query failed: no values found", c.name, c.ns)
		return false
	case sr < c.spec.MinSuccessRate:
		c.event(e, t, "Warning", "Halt %s.%s advancement success rate %.2f%% < %g%%", c.name, c.ns, sr, c.spec.MinSuccessRate)
		return false
	case p99 > c.spec.MaxDurationMs:
		c.event(e, t, "Warning", "Halt %s.%s advancement request duration %s > %s", c.name, c.ns,
			time.Duration(p99*float64(time.Millisecond)).Round(time.Millisecond), time.Duration(c.spec.MaxDurationMs)*time.Millisecond)
		return false
	}
	return true
}

// advance is Flagger's runCanary: step the weight up, or at the maximum
// weight pass the confirm-promotion gate and promote.
func (c *canaryState) advance(e *Engine, t time.Time) {
	if maxW := c.spec.StepWeights[len(c.spec.StepWeights)-1]; c.weight < maxW {
		for _, w := range c.spec.StepWeights {
			if w > c.weight {
				c.weight = w
				break
			}
		}
		c.status.CanaryWeight = c.weight
		c.event(e, t, "Normal", "Advance %s.%s canary weight %d", c.name, c.ns, c.weight)
		return
	}
	if c.hasGate(GateConfirmPromotion) {
		if !c.gateOpen(e, t, false) {
			if c.status.Phase != PhaseWaitingPromotion {
				c.setPhase(t, PhaseWaitingPromotion)
				c.event(e, t, "Warning", "Halt %s.%s advancement waiting for promotion approval %s", c.name, c.ns, GateConfirmPromotion)
			} else {
				c.status.Iterations = -1
			}
			return
		}
		c.event(e, t, "Normal", "Confirm-promotion check %s passed", GateConfirmPromotion)
	}
	c.event(e, t, "Normal", "Copying %s.%s template spec to %s-primary.%s", c.name, c.ns, c.name, c.ns)
	c.promotePrimary(e, t)
	c.setPhase(t, PhasePromoting)
}

// rollback routes all traffic back to the primary and fails the analysis.
func (c *canaryState) rollback(e *Engine, t time.Time) {
	if c.status.FailedChecks >= c.spec.Threshold {
		c.event(e, t, "Warning", "Rolling back %s.%s failed checks threshold reached %d", c.name, c.ns, c.status.FailedChecks)
	}
	c.weight = 0
	c.event(e, t, "Warning", "Canary failed! Scaling down %s.%s", c.name, c.ns)
	c.finish(e, t, PhaseFailed, &c.failures, c.mFail)
}

// finish ends an analysis in phase: the canary Deployment scales to zero,
// the outcome's counter (and its Flagger metric) goes up and the canary
// waits for its next rollout.
func (c *canaryState) finish(e *Engine, t time.Time, phase string, outcomes *int, m *metric) {
	if p := e.cur[c.wCanary]; p != nil {
		e.stopPod(p, t)
	}
	c.setPhase(t, phase)
	c.reportStatus(phase)
	*outcomes++
	m.hidden = false
	m.set(float64(*outcomes))
	c.nextTick = time.Time{}
}

// promotePrimary rolls the primary (payments-primary) to the canary's version.
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

// setTargetVersion makes the target Deployment's template the given
// version (a new revision, or on deletion before any, the promoted one).
func (c *canaryState) setTargetVersion(e *Engine, version string) {
	w := e.mesh.Workloads[c.wCanary]
	if w.Version == version {
		return
	}
	w.Version = version
	if i := strings.LastIndexByte(w.Image, ':'); i >= 0 {
		w.Image = w.Image[:i+1] + version
	}
}

// terminating starts Flagger's finalizer for a deleted Canary (it declares
// revertOnDeletion): the target scales back up to the primary's replicas
// while the routing still points at the primary.
func (c *canaryState) terminating(e *Engine, t time.Time) {
	c.nextTick = time.Time{}
	c.setPhase(t, PhaseTerminating)
	c.event(e, t, "Normal", "Terminating canary %s.%s", c.name, c.ns)
	if !c.detected {
		// The target was never changed: its template is the promoted one.
		c.setTargetVersion(e, e.mesh.Workloads[c.wPrimary].Version)
	}
	if e.cur[c.wCanary] == nil {
		e.startPod(c.wCanary, t)
	}
}

// finalized completes the finalizer once the target is ready: the apex
// service and the VirtualService route to the target again, the finalizer
// goes and the Canary with it; Kubernetes' garbage collector deletes what
// the Canary owned (the primary, payments-primary, and its services).
func (c *canaryState) finalized(e *Engine, t time.Time) {
	c.reverted, c.weight = true, 0
	c.event(e, t, "Normal", "Terminated canary %s.%s", c.name, c.ns)
	c.setPhase(t, PhaseTerminated)
	if p := e.cur[c.wPrimary]; p != nil {
		e.stopPod(p, t)
	}
}

// initializing is a (re-)created Canary: Flagger marks it Initializing
// and its job runs at once, creating the primary from the target.
func (c *canaryState) initializing(e *Engine, t time.Time) {
	c.setPhase(t, PhaseInitializing)
	c.status.FailedChecks = 0
	c.run(e, t)
}

// initialize is a scheduler run while Initializing: the first creates the
// primary (which is not ready yet), the next one, with the primary ready,
// points the apex service at it, scales the target to zero and takes over
// the VirtualService.
func (c *canaryState) initialize(e *Engine, t time.Time) {
	if e.cur[c.wPrimary] == nil {
		prim, target := e.mesh.Workloads[c.wPrimary], e.mesh.Workloads[c.wCanary]
		prim.Version, prim.Image = target.Version, target.Image
		e.startPod(c.wPrimary, t)
		c.event(e, t, "Warning", "%s-primary.%s not ready: waiting for rollout to finish: 0 of 1 (readyThreshold 100%%) updated replicas are available", c.name, c.ns)
		return
	}
	c.reverted, c.weight, c.revision = false, 0, false
	if p := e.cur[c.wCanary]; p != nil {
		e.stopPod(p, t)
	}
	c.setPhase(t, PhaseInitialized)
	c.reportStatus(PhaseInitialized)
	c.event(e, t, "Normal", "Initialization done! %s.%s", c.name, c.ns)
}

// routesReported reports whether Flagger updates flagger_canary_weight: not
// while the Canary is being deleted or created.
func (c *canaryState) routesReported() bool {
	switch c.status.Phase {
	case PhaseTerminating, PhaseTerminated, PhaseInitializing:
		return false
	}
	return true
}

// ---- the load tester's gates and the Canary's deletion ----

// gateKey is the load tester's key of a gate: "<name>.<namespace>" for
// /gate/*, "rollback.<name>.<namespace>" for /rollback/*.
func gateKey(key string, rollback bool) string {
	if rollback {
		return "rollback." + key
	}
	return key
}

func (e *Engine) gateOpen(key string, rollback bool) bool { return e.gates[gateKey(key, rollback)] }

func (e *Engine) setGate(name, namespace string, rollback, open bool) {
	key := gateKey(name+"."+namespace, rollback)
	if e.gates == nil {
		e.gates = map[string]bool{}
	}
	verb := map[bool]string{true: "opened", false: "closed"}[open]
	if rollback {
		e.loadTesterLog(e.now, fmt.Sprintf("%s rollback %s", key, verb))
	} else {
		e.loadTesterLog(e.now, fmt.Sprintf("%s gate %s", key, verb))
	}
	if e.gates[key] != open {
		e.timeline(e.now, "flagger-loadtester: %s gate %s", key, verb)
	}
	e.gates[key] = open
}

// loadTesterLog writes a line of the load tester's log.
func (e *Engine) loadTesterLog(t time.Time, msg string) {
	if i := e.mesh.index(loadTesterName); i >= 0 && e.cur[i] != nil && e.cur[i].app != nil {
		p := e.cur[i]
		e.log(t, p, p.app, "info", msg, nil)
	}
}

// OpenGate opens the load tester's gate of the canary name.namespace, what
// `POST /gate/open` does: its confirm-rollout and confirm-promotion checks
// pass from the next scheduler tick on. Like the load tester, it keeps the
// state of any name, whether a Canary of that name exists or not.
func (e *Engine) OpenGate(name, namespace string) { e.setGate(name, namespace, false, true) }

// CloseGate closes the load tester's gate of name.namespace (`POST /gate/close`).
func (e *Engine) CloseGate(name, namespace string) { e.setGate(name, namespace, false, false) }

// GateOpen reports what `/gate/check` answers for name.namespace.
func (e *Engine) GateOpen(name, namespace string) bool { return e.gateOpen(name+"."+namespace, false) }

// OpenRollback opens the load tester's rollback gate of name.namespace
// (`POST /rollback/open`): a Canary with a rollback webhook rolls back at
// its next tick while Progressing or WaitingPromotion.
func (e *Engine) OpenRollback(name, namespace string) { e.setGate(name, namespace, true, true) }

// CloseRollback closes the rollback gate of name.namespace (`POST /rollback/close`).
func (e *Engine) CloseRollback(name, namespace string) { e.setGate(name, namespace, true, false) }

// RollbackOpen reports what `/rollback/check` answers for name.namespace.
func (e *Engine) RollbackOpen(name, namespace string) bool {
	return e.gateOpen(name+"."+namespace, true)
}

// lookupCanary finds the simulated Canary name.namespace.
func (e *Engine) lookupCanary(name, namespace string) (*canaryState, error) {
	c := e.canary
	if c == nil {
		return nil, fmt.Errorf("no canary %s.%s (the simulated mesh %s has none)", name, namespace, e.mesh.Name)
	}
	if c.name != name || c.ns != namespace {
		return nil, fmt.Errorf("no canary %s.%s (the simulated mesh has %s.%s)", name, namespace, c.name, c.ns)
	}
	return c, nil
}

// DeleteCanary deletes the Canary name.namespace now. It declares
// revertOnDeletion, so Flagger's finalizer takes over in the next step:
// Terminating while the target scales back up, then Terminated, with the
// traffic on the target and the primary garbage-collected.
func (e *Engine) DeleteCanary(name, namespace string) error {
	c, err := e.lookupCanary(name, namespace)
	if err != nil {
		return err
	}
	if !c.exists() || c.status.Phase == PhaseTerminating || !c.deleteAt.IsZero() {
		return fmt.Errorf("canary %s.%s is already being deleted or gone", name, namespace)
	}
	c.deleteAt, c.createAt = e.now, time.Time{}
	e.timeline(e.now, "canary %s.%s deleted", name, namespace)
	return nil
}

// CreateCanary creates the Canary name.namespace again after DeleteCanary:
// Flagger initializes it (Initializing, then Initialized once the new
// primary is ready) and the target scales to zero.
func (e *Engine) CreateCanary(name, namespace string) error {
	c, err := e.lookupCanary(name, namespace)
	if err != nil {
		return err
	}
	if c.exists() || !c.createAt.IsZero() {
		return fmt.Errorf("canary %s.%s exists", name, namespace)
	}
	c.createAt = e.now
	e.timeline(e.now, "canary %s.%s created", name, namespace)
	return nil
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
	if c.routesReported() {
		c.mWCanary.set(float64(c.weight))
		c.mWPrimary.set(float64(100 - c.weight))
	}
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
