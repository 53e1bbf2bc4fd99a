package simulator_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// TestIntegrationCanaryPhasesAcceptedByAPIServer walks the gated rollout
// through every phase it reaches (held, approved, deleted, re-created) and
// applies the Canary at each one to a real kube-apiserver with Flagger's
// CRD, which validates status.phase, the gate webhooks and the spec.
func TestIntegrationCanaryPhasesAcceptedByAPIServer(t *testing.T) {
	k := harness.StartKube(t)
	dyn, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	canaries := dyn.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).Namespace("shop")
	sc, _ := simulator.LookupScenario("canary-promotion-gate")
	e, err := simulator.NewEngine(simulator.Options{Scenario: sc, Seed: 3, Start: itBase, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	// apply applies the objects now and reads the Canary back.
	apply := func() {
		t.Helper()
		st := e.CanaryStatus()
		if err := simulator.ApplyObjects(ctx, dyn, e.Objects(), false); err != nil {
			t.Fatalf("apply at %s: %v", st.Phase, err)
		}
		got, err := canaries.Get(ctx, "payments", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("read back at %s: %v", st.Phase, err)
		}
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		weight, _, _ := unstructured.NestedInt64(got.Object, "status", "canaryWeight")
		iterations, _, _ := unstructured.NestedInt64(got.Object, "status", "iterations")
		if phase != st.Phase || weight != int64(st.CanaryWeight) || iterations != int64(st.Iterations) {
			t.Errorf("read back phase=%s canaryWeight=%d iterations=%d, simulated %+v", phase, weight, iterations, st)
		}
		seen[phase] = true
	}
	// stepUntil steps until the Canary reaches phase (and applies the
	// objects at every phase on the way).
	stepUntil := func(phase string) {
		t.Helper()
		last := ""
		for i := 0; i < 400; i++ {
			if st := e.CanaryStatus(); st.Phase != last {
				last = st.Phase
				if st.Phase != simulator.PhaseTerminated {
					apply()
				}
				if st.Phase == phase {
					return
				}
			}
			e.Step()
		}
		t.Fatalf("the canary never reached %s (it is %s)", phase, last)
	}
	stepUntil(simulator.PhaseWaitingPromotion)
	got, _ := canaries.Get(ctx, "payments", metav1.GetOptions{})
	hooks, _, _ := unstructured.NestedSlice(got.Object, "spec", "analysis", "webhooks")
	types := map[string]bool{}
	for _, h := range hooks {
		if typ, ok := h.(map[string]any)["type"].(string); ok {
			types[typ] = true
		}
	}
	if !types[simulator.GateConfirmPromotion] || !types[simulator.GateRollback] {
		t.Errorf("gate webhooks not stored: %v", hooks)
	}
	e.OpenGate("payments", "shop")
	stepUntil(simulator.PhaseSucceeded)
	if err := e.DeleteCanary("payments", "shop"); err != nil {
		t.Fatal(err)
	}
	stepUntil(simulator.PhaseTerminated)
	for _, o := range e.Objects() {
		if o["kind"] == "Canary" {
			t.Error("a Terminated canary is still among the objects")
		}
	}
	if err := e.CreateCanary("payments", "shop"); err != nil {
		t.Fatal(err)
	}
	stepUntil(simulator.PhaseInitialized)
	for _, p := range []string{simulator.PhaseProgressing, simulator.PhaseWaitingPromotion, simulator.PhasePromoting,
		simulator.PhaseFinalising, simulator.PhaseSucceeded, simulator.PhaseTerminating, simulator.PhaseInitializing, simulator.PhaseInitialized} {
		if !seen[p] {
			t.Errorf("phase %s was never applied", p)
		}
	}
}
