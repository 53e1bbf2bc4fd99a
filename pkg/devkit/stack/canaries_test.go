package stack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
)

// A canary scenario's Canary reaches the plugin's canary capability through
// the stack's kube-apiserver, held at WaitingPromotion; a sign-off opens the
// simulator's gate and the simulated Flagger promotes it.
func TestStackMirrorsTheCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	ctx := context.Background()
	s, err := Start(ctx, Options{Scenario: "canary-promotion-gate", Seed: 1, RulesDir: rulesDir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := s.Settings()
	if set["kubernetes.mode"] != "url" || set["kubernetes.url"] == "" {
		t.Fatalf("settings %v: want the stack's kube-apiserver in url mode", set)
	}
	// As the plugin reads it: url mode with the stack's token from its secrets (anonymous reads are refused).
	raw, err := json.Marshal(map[string]any{"kubernetes": map[string]any{
		"mode": settings.KubeURL, "url": set["kubernetes.url"], "caCert": set["kubernetes.caCert"]}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := settings.Load(raw, s.Secrets())
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubernetes.New(cfg.Kubernetes)
	if err != nil {
		t.Fatal(err)
	}
	svc := canaries.New(canaries.Options{Kube: kc, GateEvery: time.Second})
	svc.Start()
	defer svc.Stop()
	var c canaries.Canary
	deadline := time.Now().Add(60 * time.Second)
	for {
		list := svc.Snapshot(ctx)
		if len(list) == 1 && list[0].AwaitingDecision {
			c = list[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no canary awaiting a decision: %+v (watch: %v)", list, svc.ListErr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c.Phase != canaries.PhaseWaitingPromotion || c.Weight != 50 || len(c.History) == 0 {
		t.Fatalf("canary %+v", c)
	}
	if _, _, err := svc.Decide(ctx, &access.User{Login: "eve", Role: access.Editor}, c.Namespace, c.Name, canaries.DecisionPromote, "preview"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(3 * time.Minute)
	for {
		got, _ := svc.Canary(ctx, c.Namespace, c.Name)
		if got.Phase == canaries.PhaseSucceeded {
			t.Logf("promoted: %d history entries", len(got.History))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the signed-off canary is still %s", got.Phase)
		}
		time.Sleep(time.Second)
	}
}
