package simulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The tests drive Flagger's phases with the engine's own clock: every Step
// is one scrape interval, and the gates are opened between steps.

var flaggerStart = time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)

// rolloutScenario is a one-hour run whose payments rollout starts at 10m,
// with the given gate webhooks and extra effects (YAML flow mappings).
func rolloutScenario(t *testing.T, gates []string, extra ...string) *Scenario {
	t.Helper()
	y := "name: test-rollout\ndescription: d\nduration: 1h\ntruth: {causeClass: none}\neffects:\n" +
		"  - {kind: canary-progression, target: payments, version: v2, at: 10m, gates: [" + strings.Join(gates, ", ") + "]}\n"
	for _, x := range extra {
		y += "  - " + x + "\n"
	}
	sc, err := ParseScenario([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newTestEngine(t *testing.T, sc *Scenario) *Engine {
	t.Helper()
	e, err := NewEngine(Options{Scenario: sc, Seed: 9, Start: flaggerStart, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// phaseLog is what an observer polling the Canary after every step sees.
type phaseLog struct {
	phases []string
	since  []time.Time // when each phase was first seen
}

func (l *phaseLog) observe(e *Engine) {
	p := e.CanaryStatus().Phase
	if n := len(l.phases); n == 0 || l.phases[n-1] != p {
		l.phases = append(l.phases, p)
		l.since = append(l.since, e.Now())
	}
}

// stepTo steps e until its clock reaches until, observing after each step.
func (l *phaseLog) stepTo(e *Engine, until time.Time) {
	if len(l.phases) == 0 {
		l.observe(e)
	}
	for e.Now().Before(until) {
		e.Step()
		l.observe(e)
	}
}

// seenAt is when phase was first seen (zero: never).
func (l *phaseLog) seenAt(phase string) time.Time {
	if i := slices.Index(l.phases, phase); i >= 0 {
		return l.since[i]
	}
	return time.Time{}
}

// routeWeight is flagger_canary_weight of the canary now (the route's share).
func routeWeight(e *Engine) float64 { return e.canary.mWCanary.val }

// statusGauge is flagger_canary_status of the canary now.
func statusGauge(e *Engine) float64 { return e.canary.mStatus.val }

// counterNow sums the current values of a family's series matching match.
func counterNow(t *testing.T, e *Engine, family string, match map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, m := range e.reg.byName[family].metrics {
		ls, err := parseLabels(m.labels)
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for k, v := range match {
			ok = ok && ls[k] == v
		}
		if ok && m.exposed() {
			sum += m.val
		}
	}
	return sum
}

func canaryObjectOf(t *testing.T, e *Engine) map[string]any {
	t.Helper()
	for _, o := range e.Objects() {
		if o["kind"] == "Canary" {
			return o
		}
	}
	return nil
}

func TestCanaryPhasesOfAPromotion(t *testing.T) {
	sc, _ := LookupScenario("canary-success")
	e := newTestEngine(t, sc)
	var l phaseLog
	var weights []float64
	var gaugeWhileProgressing []float64
	for e.Now().Before(flaggerStart.Add(time.Hour)) {
		e.Step()
		l.observe(e)
		if w := routeWeight(e); len(weights) == 0 || weights[len(weights)-1] != w {
			weights = append(weights, w)
		}
		if e.CanaryStatus().Phase == PhaseProgressing {
			gaugeWhileProgressing = append(gaugeWhileProgressing, statusGauge(e))
		}
	}
	if want := []string{PhaseSucceeded, PhaseProgressing, PhasePromoting, PhaseFinalising, PhaseSucceeded}; !slices.Equal(l.phases, want) {
		t.Errorf("phases %v, want %v", l.phases, want)
	}
	if want := []float64{0, 10, 25, 50, 0}; !slices.Equal(weights, append([]float64(nil), want...)) {
		t.Errorf("route weights %v, want the step weights up and back to 0", weights)
	}
	if len(gaugeWhileProgressing) == 0 || slices.Max(gaugeWhileProgressing) != 0 {
		t.Errorf("flagger_canary_status while Progressing: %v, want 0 (running)", gaugeWhileProgressing)
	}
	if g := statusGauge(e); g != 1 {
		t.Errorf("flagger_canary_status after the promotion: %v, want 1", g)
	}
	if v := e.mesh.Workload("payments-primary").Version; v != "v2" {
		t.Errorf("primary runs %s after the promotion, want v2", v)
	}
	if e.cur[e.mesh.index("payments")] != nil {
		t.Error("the canary target is not scaled to zero after the promotion")
	}
	if e.canary.mSucc.val != 1 || e.canary.mFail.val != 0 {
		t.Errorf("successes %v failures %v", e.canary.mSucc.val, e.canary.mFail.val)
	}
	// Each phase lasts one analysis interval between Promoting and Succeeded.
	if d := l.seenAt(PhaseFinalising).Sub(l.seenAt(PhasePromoting)); d != PaymentsAnalysis.Interval {
		t.Errorf("Promoting lasted %s, want one interval", d)
	}
}

func TestCanaryPhasesOfARollback(t *testing.T) {
	sc, _ := LookupScenario("canary-5xx-regression")
	e := newTestEngine(t, sc)
	var l phaseLog
	l.stepTo(e, flaggerStart.Add(time.Hour))
	if want := []string{PhaseSucceeded, PhaseProgressing, PhaseFailed}; !slices.Equal(l.phases, want) {
		t.Errorf("phases %v, want %v", l.phases, want)
	}
	st := e.CanaryStatus()
	if st.CanaryWeight != 0 || routeWeight(e) != 0 || statusGauge(e) != 2 {
		t.Errorf("after the rollback: status %+v, route weight %v, flagger_canary_status %v (want 0, 0, 2)", st, routeWeight(e), statusGauge(e))
	}
	if v := e.mesh.Workload("payments-primary").Version; v != "v1" {
		t.Errorf("primary runs %s after a rollback, want v1", v)
	}
	if e.canary.mFail.val != 1 || e.canary.mSucc.val != 0 {
		t.Errorf("failures %v successes %v", e.canary.mFail.val, e.canary.mSucc.val)
	}
}

func TestCanaryHoldsAtWaitingPromotionUntilTheGateOpens(t *testing.T) {
	e := newTestEngine(t, rolloutScenario(t, []string{GateConfirmPromotion}))
	var l phaseLog
	hold := flaggerStart.Add(40 * time.Minute)
	l.stepTo(e, hold)
	if want := []string{PhaseSucceeded, PhaseProgressing, PhaseWaitingPromotion}; !slices.Equal(l.phases, want) {
		t.Fatalf("phases before the gate opens %v, want %v", l.phases, want)
	}
	if held := hold.Sub(l.seenAt(PhaseWaitingPromotion)); held < 25*time.Minute {
		t.Fatalf("held only %s", held)
	}
	maxW := float64(PaymentsAnalysis.StepWeights[len(PaymentsAnalysis.StepWeights)-1])
	st := e.CanaryStatus()
	// Flagger's setStatusPhase zeroes status.canaryWeight (and sets
	// iterations to -1) on entering WaitingPromotion; the route keeps the
	// canary's share, and the load test and the checks go on.
	if routeWeight(e) != maxW || st.CanaryWeight != 0 || st.Iterations != -1 {
		t.Errorf("held: route weight %v (want %v), status %+v", routeWeight(e), maxW, st)
	}
	if statusGauge(e) != 1 {
		t.Errorf("flagger_canary_status while WaitingPromotion %v, want 1 (Flagger reports 0 only while Progressing)", statusGauge(e))
	}
	if !e.canary.loadActive() || st.FailedChecks != 0 {
		t.Errorf("load tester active %v, failed checks %d", e.canary.loadActive(), st.FailedChecks)
	}
	if c, _, _ := unstructured.NestedString(canaryObjectOf(t, e), "status", "phase"); c != PhaseWaitingPromotion {
		t.Errorf("Canary object phase %q", c)
	}
	ltReq := func() float64 {
		return counterNow(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "source_workload": "flagger-loadtester"})
	}
	before := ltReq()
	l.stepTo(e, hold.Add(5*time.Minute))
	if ltReq() <= before {
		t.Error("the load tester stopped while the promotion waits") // (the checks go on too: see the next test)
	}
	if e.CanaryStatus().Phase != PhaseWaitingPromotion || e.mesh.Workload("payments-primary").Version != "v1" {
		t.Fatalf("promoted without approval: %+v", e.CanaryStatus())
	}

	opened := e.Now()
	e.OpenGate("payments", "shop")
	l.stepTo(e, opened.Add(10*time.Minute))
	want := []string{PhaseSucceeded, PhaseProgressing, PhaseWaitingPromotion, PhasePromoting, PhaseFinalising, PhaseSucceeded}
	if !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if p := l.seenAt(PhasePromoting); p.Before(opened) || p.Sub(opened) > PaymentsAnalysis.Interval+e.StepDuration() {
		t.Errorf("Promoting at %s, the gate opened at %s: want the next tick", p, opened)
	}
	if e.mesh.Workload("payments-primary").Version != "v2" || routeWeight(e) != 0 || statusGauge(e) != 1 {
		t.Errorf("after approval: primary %s, route weight %v, status %v", e.mesh.Workload("payments-primary").Version, routeWeight(e), statusGauge(e))
	}
	var passed bool
	for _, ev := range e.Truth().Timeline {
		passed = passed || strings.Contains(ev.What, "Confirm-promotion check confirm-promotion passed")
	}
	if !passed {
		t.Error("no confirm-promotion event in the timeline")
	}
}

func TestCanaryChecksKeepRunningWhileWaitingPromotion(t *testing.T) {
	// The canary starts failing 20 minutes after its rollout, long after it
	// reached WaitingPromotion: the checks still run and roll it back.
	sc := rolloutScenario(t, []string{GateConfirmPromotion},
		"{kind: error-rate, target: payments, version: v2, at: 30m, magnitude: 0.2, code: 500}")
	e := newTestEngine(t, sc)
	var l phaseLog
	l.stepTo(e, flaggerStart.Add(time.Hour))
	if want := []string{PhaseSucceeded, PhaseProgressing, PhaseWaitingPromotion, PhaseFailed}; !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if failed := l.seenAt(PhaseFailed); failed.Before(flaggerStart.Add(30 * time.Minute)) {
		t.Errorf("failed at %s, before the fault", failed)
	}
	if st := e.CanaryStatus(); st.FailedChecks < PaymentsAnalysis.Threshold || statusGauge(e) != 2 || routeWeight(e) != 0 {
		t.Errorf("after the rollback: %+v, flagger_canary_status %v, route weight %v", st, statusGauge(e), routeWeight(e))
	}
}

func TestCanaryWaitsForConfirmRollout(t *testing.T) {
	e := newTestEngine(t, rolloutScenario(t, []string{GateConfirmRollout}))
	var l phaseLog
	l.stepTo(e, flaggerStart.Add(25*time.Minute))
	if want := []string{PhaseSucceeded, PhaseWaiting}; !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if e.cur[e.mesh.index("payments")] != nil || routeWeight(e) != 0 || e.canary.loadActive() {
		t.Error("the canary scaled up or got traffic before the rollout was confirmed")
	}
	if statusGauge(e) != 1 {
		t.Errorf("flagger_canary_status while Waiting %v, want 1", statusGauge(e))
	}
	opened := e.Now()
	e.OpenGate("payments", "shop")
	l.stepTo(e, flaggerStart.Add(time.Hour))
	want := []string{PhaseSucceeded, PhaseWaiting, PhaseProgressing, PhasePromoting, PhaseFinalising, PhaseSucceeded}
	if !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if l.seenAt(PhaseProgressing).Before(opened) {
		t.Error("progressing before the gate opened")
	}
}

func TestCanaryRollbackGate(t *testing.T) {
	e := newTestEngine(t, rolloutScenario(t, []string{GateConfirmPromotion, GateRollback}))
	var l phaseLog
	l.stepTo(e, flaggerStart.Add(30*time.Minute))
	if got := e.CanaryStatus().Phase; got != PhaseWaitingPromotion {
		t.Fatalf("phase %s, want WaitingPromotion", got)
	}
	e.OpenGate("other", "shop") // another canary's gate changes nothing
	e.OpenRollback("payments", "shop")
	opened := e.Now()
	l.stepTo(e, opened.Add(5*time.Minute))
	if want := []string{PhaseSucceeded, PhaseProgressing, PhaseWaitingPromotion, PhaseFailed}; !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if d := l.seenAt(PhaseFailed).Sub(opened); d > PaymentsAnalysis.Interval+e.StepDuration() {
		t.Errorf("rolled back %s after the rollback gate opened", d)
	}
	if st := e.CanaryStatus(); st.FailedChecks != 0 || statusGauge(e) != 2 || e.mesh.Workload("payments-primary").Version != "v1" {
		t.Errorf("manual rollback: %+v, status gauge %v", st, statusGauge(e))
	}
	var manual bool
	for _, ev := range e.Truth().Timeline {
		manual = manual || strings.Contains(ev.What, "Rolling back payments.shop manual webhook invoked")
	}
	if !manual {
		t.Error("no manual rollback event")
	}
}

func TestCanaryDeletionAndRecreation(t *testing.T) {
	sc, _ := LookupScenario("canary-success")
	e := newTestEngine(t, sc)
	var l phaseLog
	l.stepTo(e, flaggerStart.Add(45*time.Minute)) // promoted to v2 at about 35m
	paymentsReq := func(workload string) float64 {
		return counterNow(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": workload})
	}
	if err := e.DeleteCanary("payments", "default"); err == nil {
		t.Error("deleted a canary that does not exist")
	}
	if err := e.DeleteCanary("payments", "shop"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteCanary("payments", "shop"); err == nil {
		t.Error("deleted the canary twice")
	}
	e.Step()
	l.observe(e)
	if got := e.CanaryStatus().Phase; got != PhaseTerminating {
		t.Fatalf("phase after deletion %s, want Terminating", got)
	}
	if ph, _, _ := unstructured.NestedString(canaryObjectOf(t, e), "status", "phase"); ph != PhaseTerminating {
		t.Errorf("Canary object phase %q while terminating", ph)
	}
	if rev, _, _ := unstructured.NestedBool(canaryObjectOf(t, e), "spec", "revertOnDeletion"); !rev {
		t.Error("the Canary does not declare revertOnDeletion, so Flagger would not terminate it")
	}
	if e.cur[e.mesh.index("payments")] == nil {
		t.Error("the target is not scaled back up while terminating")
	}
	e.Step()
	l.observe(e)
	if got := e.CanaryStatus().Phase; got != PhaseTerminated {
		t.Fatalf("phase %s, want Terminated", got)
	}
	if canaryObjectOf(t, e) != nil {
		t.Error("the Canary object outlives its termination")
	}
	for _, o := range e.Objects() {
		name, _, _ := unstructured.NestedString(o, "metadata", "name")
		if (o["kind"] == "Deployment" && name == "payments-primary") || (o["kind"] == "Service" && (name == "payments-primary" || name == "payments-canary")) {
			t.Errorf("%s %s was not garbage-collected with the Canary", o["kind"], name)
		}
		if o["kind"] == "Service" && name == "payments" {
			if sel, _, _ := unstructured.NestedString(o, "spec", "selector", "app"); sel != "payments" {
				t.Errorf("the apex service selects %s after the revert, want the target", sel)
			}
		}
	}
	target, primary := paymentsReq("payments"), paymentsReq("payments-primary")
	ended := e.Now()
	l.stepTo(e, ended.Add(5*time.Minute))
	if paymentsReq("payments") <= target || paymentsReq("payments-primary") != primary {
		t.Error("traffic does not go to the target once the Canary is gone")
	}
	if e.Now().After(ended) && statusGauge(e) != 1 {
		t.Errorf("flagger_canary_status %v: Flagger leaves the last value", statusGauge(e))
	}

	// Applying the Canary again: Flagger initializes it from the target.
	if err := e.CreateCanary("payments", "shop"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateCanary("payments", "shop"); err == nil {
		t.Error("created the canary twice")
	}
	l.stepTo(e, e.Now().Add(5*time.Minute))
	want := []string{PhaseSucceeded, PhaseProgressing, PhasePromoting, PhaseFinalising, PhaseSucceeded,
		PhaseTerminating, PhaseTerminated, PhaseInitializing, PhaseInitialized}
	if !slices.Equal(l.phases, want) {
		t.Fatalf("phases %v, want %v", l.phases, want)
	}
	if e.cur[e.mesh.index("payments")] != nil || e.cur[e.mesh.index("payments-primary")] == nil {
		t.Error("after initialization the primary should serve and the target be scaled to zero")
	}
	if c := canaryObjectOf(t, e); c == nil {
		t.Error("no Canary object after re-creation")
	} else if st, _, _ := unstructured.NestedSlice(c, "status", "conditions"); len(st) != 1 || st[0].(map[string]any)["status"] != "True" {
		t.Errorf("Promoted condition after initialization %v", st)
	}
	primary = paymentsReq("payments-primary")
	l.stepTo(e, e.Now().Add(5*time.Minute))
	if paymentsReq("payments-primary") <= primary {
		t.Error("traffic does not go back to the primary after initialization")
	}
}

func TestBackfilledGateScenarioEndsWaitingPromotion(t *testing.T) {
	e := run(t, "canary-promotion-gate")
	if st := e.CanaryStatus(); st.Phase != PhaseWaitingPromotion {
		t.Fatalf("backfill ends %+v, want WaitingPromotion (nobody opens the gate)", st)
	}
	var weights []float64
	for _, r := range series(t, e, "flagger_canary_weight", map[string]string{"workload": "payments"}) {
		for _, v := range r.vals {
			if len(weights) == 0 || weights[len(weights)-1] != v {
				weights = append(weights, v)
			}
		}
	}
	if !slices.Equal(weights, []float64{0, 10, 25, 50}) {
		t.Errorf("canary weights %v, want the steps up to 50 and held", weights)
	}
	if len(series(t, e, "flagger_canary_successes_total", nil)) != 0 || len(series(t, e, "flagger_canary_failures_total", nil)) != 0 {
		t.Error("a held rollout neither succeeds nor fails")
	}
	hooks, _, _ := unstructured.NestedSlice(canaryObjectOf(t, e), "spec", "analysis", "webhooks")
	urls := map[string]string{}
	for _, h := range hooks {
		m := h.(map[string]any)
		if typ, ok := m["type"].(string); ok {
			urls[typ] = m["url"].(string)
		}
	}
	if !strings.HasSuffix(urls[GateConfirmPromotion], "/gate/check") || !strings.HasSuffix(urls[GateRollback], "/rollback/check") {
		t.Errorf("gate webhooks %v", urls)
	}
}

func TestGateScenarioValidation(t *testing.T) {
	for name, effect := range map[string]string{
		"unknown gate":      "{kind: canary-progression, target: payments, at: 1m, gates: [confirm-coffee]}",
		"gate twice":        "{kind: canary-progression, target: payments, at: 1m, gates: [rollback, rollback]}",
		"gate on a fault":   "{kind: latency, target: api, at: 1m, magnitude: 5, gates: [rollback]}",
		"code not a status": "{kind: error-rate, target: api, at: 1m, magnitude: 0.1, code: 70000}",
	} {
		y := "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\neffects: [" + effect + "]"
		if _, err := ParseScenario([]byte(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func gateCall(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLiveGateEndpoints(t *testing.T) {
	sc, _ := LookupScenario("canary-promotion-gate")
	// A one-hour live run: the rollout starts at 30m.
	live, err := NewLive(Options{Scenario: sc, Seed: 4, Start: flaggerStart, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(live)
	defer srv.Close()
	payments := `{"name":"payments","namespace":"shop","phase":"Progressing","metadata":{}}`
	query := "?" + url.Values{"name": {"payments"}, "namespace": {"shop"}}.Encode()
	for _, kind := range []string{"gate", "rollback"} {
		base := srv.URL + "/" + kind
		open := func() bool {
			if kind == "gate" {
				return live.GateOpen("payments", "shop")
			}
			return live.RollbackOpen("payments", "shop")
		}
		if code, body := gateCall(t, http.MethodPost, base+"/check", payments); code != http.StatusForbidden || body != "Forbidden" {
			t.Errorf("%s/check while closed: %d %q", kind, code, body)
		}
		if code, _ := gateCall(t, http.MethodPost, base+"/open", payments); code != http.StatusAccepted || !open() {
			t.Errorf("%s/open: %d, open=%v", kind, code, open())
		}
		if code, body := gateCall(t, http.MethodPost, base+"/check", payments); code != http.StatusOK || body != "Approved" {
			t.Errorf("%s/check while open: %d %q", kind, code, body)
		}
		if code, _ := gateCall(t, http.MethodGet, base+"/check"+query, ""); code != http.StatusOK {
			t.Errorf("GET %s/check with query while open: %d", kind, code)
		}
		if code, _ := gateCall(t, http.MethodPost, base+"/check", `{"name":"orders","namespace":"shop"}`); code != http.StatusForbidden {
			t.Errorf("%s/check of another canary: %d", kind, code)
		}
		if code, _ := gateCall(t, http.MethodPost, base+"/close", payments); code != http.StatusAccepted || open() {
			t.Errorf("%s/close: %d, open=%v", kind, code, open())
		}
		if code, _ := gateCall(t, http.MethodGet, base+"/check"+query, ""); code != http.StatusForbidden {
			t.Errorf("GET %s/check after close: %d", kind, code)
		}
		for _, bad := range []struct {
			method, path, body string
			want               int
		}{
			{http.MethodPost, "/open", `{"name":`, http.StatusBadRequest},
			{http.MethodPost, "/open", `{"name":"payments"}`, http.StatusBadRequest},
			{http.MethodGet, "/open" + query, "", http.StatusMethodNotAllowed},
			{http.MethodDelete, "/check", payments, http.StatusMethodNotAllowed},
		} {
			if code, _ := gateCall(t, bad.method, base+bad.path, bad.body); code != bad.want {
				t.Errorf("%s %s/%s %q: %d, want %d", bad.method, kind, bad.path, bad.body, code, bad.want)
			}
		}
	}
	if code, _ := gateCall(t, http.MethodPost, srv.URL+"/gate/approve", payments); code != http.StatusOK {
		t.Errorf("/gate/approve: %d", code)
	}
	if code, _ := gateCall(t, http.MethodPost, srv.URL+"/gate/halt", payments); code != http.StatusForbidden {
		t.Errorf("/gate/halt: %d", code)
	}

	// The endpoints drive the rollout: it holds until /gate/open.
	ctx := context.Background()
	if err := live.Advance(ctx, flaggerStart.Add(50*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := live.CanaryStatus(); st.Phase != PhaseWaitingPromotion {
		t.Fatalf("live canary %+v, want WaitingPromotion", st)
	}
	if err := live.Advance(ctx, flaggerStart.Add(70*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := live.CanaryStatus(); st.Phase != PhaseWaitingPromotion {
		t.Fatalf("live canary past the planned end %+v, want still WaitingPromotion", st)
	}
	if code, _ := gateCall(t, http.MethodPost, srv.URL+"/gate/open", payments); code != http.StatusAccepted {
		t.Fatalf("/gate/open: %d", code)
	}
	if err := live.Advance(ctx, flaggerStart.Add(75*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := live.CanaryStatus(); st.Phase != PhaseSucceeded {
		t.Errorf("live canary after /gate/open %+v, want Succeeded", st)
	}
	code, body := gateCall(t, http.MethodGet, srv.URL+"/truth", "")
	if code != http.StatusOK || !strings.Contains(body, "flagger-loadtester: payments.shop gate opened") ||
		!strings.Contains(body, "Confirm-promotion check confirm-promotion passed") {
		t.Errorf("/truth: %d, the gate's opening and the promotion it allowed are not in the timeline", code)
	}
}
