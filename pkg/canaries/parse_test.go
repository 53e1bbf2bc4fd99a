package canaries

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// A Canary as Flagger v1.44 leaves it in WaitingPromotion, as the API
// server returns it.
const waitingCanary = `{
  "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
  "metadata": {"name": "checkout", "namespace": "shop"},
  "spec": {
    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout-api"},
    "analysis": {
      "interval": "10s", "threshold": 2, "stepWeights": [10, 25, 50],
      "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99.5}, "interval": "30s"},
        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "30s"},
        {"name": "legacy", "threshold": 7}
      ],
      "webhooks": [
        {"name": "load-test", "url": "http://flagger-loadtester.shop/", "metadata": {"cmd": "hey"}},
        {"name": "approve", "type": "confirm-promotion", "url": "http://flagger-loadtester.shop/gate/check"},
        {"name": "abort", "type": "rollback", "url": "http://flagger-loadtester.shop/rollback/check"},
        {"name": "close", "type": "post-rollout", "url": "http://flagger-loadtester.shop/gate/close"}
      ]
    }
  },
  "status": {
    "phase": "WaitingPromotion", "canaryWeight": 50, "failedChecks": 1, "iterations": 0,
    "lastAppliedSpec": "5d8f9c7b4",
    "lastTransitionTime": "2026-12-02T04:10:00Z",
    "conditions": [{"type": "Promoted", "status": "Unknown", "reason": "WaitingPromotion",
      "message": "Canary promotion is waiting for approval.", "lastTransitionTime": "2026-12-02T04:10:00Z"}]
  }
}`

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFromObjectReadsSpecStatusAndGates(t *testing.T) {
	c := FromObject(decode(t, waitingCanary))
	if c.Namespace != "shop" || c.Name != "checkout" || c.TargetKind != "Deployment" || c.TargetName != "checkout-api" {
		t.Fatalf("identity: %+v", c)
	}
	if c.Phase != PhaseWaitingPromotion || c.Weight != 50 || c.FailedChecks != 1 || c.Threshold != 2 || c.Interval != "10s" {
		t.Fatalf("status: %+v", c)
	}
	if len(c.Steps) != 3 || c.Steps[2] != 50 || c.MaxWeight != 50 {
		t.Fatalf("steps %v max %d, want [10 25 50] 50", c.Steps, c.MaxWeight)
	}
	if !c.LastTransition.Equal(time.Date(2026, 12, 2, 4, 10, 0, 0, time.UTC)) || len(c.Conditions) != 1 || c.Conditions[0].Reason != "WaitingPromotion" {
		t.Fatalf("transition %v conditions %+v", c.LastTransition, c.Conditions)
	}
	if c.Revision == "" {
		t.Fatal("no revision from lastAppliedSpec")
	}
	if len(c.Metrics) != 3 || *c.Metrics[0].Min != 99.5 || c.Metrics[0].Max != nil || *c.Metrics[1].Max != 500 || *c.Metrics[2].Max != 7 {
		t.Fatalf("metrics %+v", c.Metrics)
	}
	if len(c.Gates) != 2 || c.Gates[0].Type != HookConfirmPromotion || !c.Gates[0].LoadTester || c.Gates[1].Type != HookRollback || !c.Gates[1].LoadTester {
		t.Fatalf("gates %+v (only the gating webhooks, both load tester gates)", c.Gates)
	}
	if !awaiting(c) {
		t.Fatal("WaitingPromotion with a closed confirm-promotion gate is not awaiting a decision")
	}
	c.Gates[0].Open = true
	if awaiting(c) {
		t.Fatal("an open gate still awaits a decision")
	}
	if base := baseFor(c, "rollback"); base != "http://flagger-loadtester.shop" {
		t.Fatalf("rollback base %q", base)
	}
}

func TestStepsAsFlaggerComputesThem(t *testing.T) {
	cases := []struct {
		an    string
		steps []int
		max   int
	}{
		{`{"stepWeights": [1, 2, 10, 80]}`, []int{1, 2, 10, 80}, 80},
		{`{"stepWeights": [10, 50, 150]}`, []int{10, 50, 100}, 100},
		{`{"stepWeight": 20, "maxWeight": 50}`, []int{20, 40, 50}, 50},
		{`{"stepWeight": 25}`, []int{25, 50, 75, 100}, 100},
		{`{"iterations": 10}`, []int{}, 0},
	}
	for _, tc := range cases {
		got, max := steps(decode(t, tc.an))
		if max != tc.max || len(got) != len(tc.steps) {
			t.Fatalf("%s: %v max %d, want %v max %d", tc.an, got, max, tc.steps, tc.max)
		}
		for i := range got {
			if got[i] != tc.steps[i] {
				t.Fatalf("%s: %v, want %v", tc.an, got, tc.steps)
			}
		}
	}
}

func TestLoadTesterBaseOnlyForGateChecks(t *testing.T) {
	for _, tc := range []struct{ url, typ, base string }{
		{"http://lt.shop/gate/check", HookConfirmPromotion, "http://lt.shop"},
		{"http://lt.shop/gate/check/", HookConfirmRollout, "http://lt.shop"},
		{"http://lt.shop:8080/rollback/check", HookRollback, "http://lt.shop:8080"},
		{"http://lt.shop/gate/approve", HookConfirmPromotion, ""},
		{"http://lt.shop/gate/check", HookRollback, ""},
		{"lt.shop/gate/check", HookConfirmPromotion, ""},
	} {
		base, ok := LoadTesterBase(tc.url, tc.typ)
		if base != tc.base || ok != (tc.base != "") {
			t.Fatalf("LoadTesterBase(%s, %s) = %q, %v; want %q", tc.url, tc.typ, base, ok, tc.base)
		}
	}
}

func TestClassifyFlaggerEvents(t *testing.T) {
	for msg, kind := range map[string]string{
		"New revision detected! Scaling up checkout-api.shop":                               HistoryProgression,
		"Advance checkout.shop canary weight 25":                                            HistoryProgression,
		"Halt checkout.shop advancement success rate 91.20% < 99.5%":                        HistoryHalt,
		"Halt checkout.shop advancement waiting for promotion approval approve":             HistoryGate,
		"Confirm-promotion check approve passed":                                            HistoryGate,
		"Copying checkout.shop template spec to checkout-api-primary.shop":                  HistoryPromotion,
		"Promotion completed! Scaling down checkout-api.shop":                               HistoryPromotion,
		"Rolling back checkout.shop failed checks threshold reached 2":                      HistoryRollback,
		"Canary failed! Scaling down checkout-api.shop":                                     HistoryRollback,
		"Rolling back checkout.shop manual webhook invoked":                                 HistoryRollback,
		"Initialization done! checkout.shop":                                                HistoryInfo,
		"Halt advancement no values found for istio metric request-success-rate probably x": HistoryHalt,
	} {
		if got := Classify(msg); got != kind {
			t.Errorf("Classify(%q) = %s, want %s", msg, got, kind)
		}
	}
}

func TestHistoryIsOrderedAndWeightStepsFillTheGap(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	h := History([]Event{
		{Message: "Advance checkout.shop canary weight 25", At: t0.Add(20 * time.Second), Count: 1},
		{Message: "Rolling back checkout.shop failed checks threshold reached 1", Type: "Warning", At: t0.Add(30 * time.Second)},
		{Message: "Advance checkout.shop canary weight 10", At: t0.Add(10 * time.Second)},
	})
	if len(h) != 3 || h[0].Message != "Advance checkout.shop canary weight 10" || h[2].Kind != HistoryRollback || !h[2].Warning {
		t.Fatalf("history %+v", h)
	}
	vals := []model.SamplePair{
		{Timestamp: model.TimeFromUnix(t0.Add(-60 * time.Second).Unix()), Value: 0},
		{Timestamp: model.TimeFromUnix(t0.Add(-45 * time.Second).Unix()), Value: 10},
		{Timestamp: model.TimeFromUnix(t0.Add(-30 * time.Second).Unix()), Value: 10},
		{Timestamp: model.TimeFromUnix(t0.Add(-15 * time.Second).Unix()), Value: 0},
		{Timestamp: model.TimeFromUnix(t0.Add(15 * time.Second).Unix()), Value: 25},
	}
	steps := weightSteps(vals)
	if len(steps) != 3 || steps[0].Kind != HistoryProgression || steps[1].Kind != HistoryInfo {
		t.Fatalf("weight steps %+v", steps)
	}
	c := withWeightHistory(Canary{History: h}, steps)
	if len(c.History) != 5 || c.History[0].Message != "Canary weight 0% → 10% (flagger_canary_weight)" {
		t.Fatalf("merged history %+v (only the steps before the oldest event)", c.History)
	}
}

func TestEventFromObject(t *testing.T) {
	ev, ok := EventFromObject(decode(t, `{"metadata": {"namespace": "shop", "uid": "u1"},
		"involvedObject": {"kind": "Canary", "name": "checkout", "namespace": "shop"},
		"type": "Warning", "reason": "Synced", "message": "Halt x", "count": 3,
		"firstTimestamp": "2026-12-02T04:00:00Z", "lastTimestamp": "2026-12-02T04:01:00Z"}`))
	if !ok || ev.Canary != "checkout" || ev.Count != 3 || !ev.At.Equal(time.Date(2026, 12, 2, 4, 1, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", ev, ok)
	}
	if _, ok := EventFromObject(decode(t, `{"involvedObject": {"kind": "Pod", "name": "x"}}`)); ok {
		t.Fatal("a Pod's event was taken for a canary's")
	}
}
