package actions_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/actions"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func ptr(n int32) *int32 { return &n }

func TestCheckIsTheAllowlist(t *testing.T) {
	ok := []actions.Action{
		{Kind: actions.Restart, Namespace: "shop", Name: "payments"},
		{Kind: actions.Scale, Namespace: "shop", Name: "payments", Replicas: ptr(1)},
		{Kind: actions.Scale, Namespace: "shop", Name: "payments", Replicas: ptr(10)},
		{Kind: actions.Gate, Namespace: "shop", Name: "payments", Gate: actions.GateRollback, Op: actions.OpOpen},
	}
	for _, a := range ok {
		if err := actions.Check(a, actions.DefaultBounds, []string{"shop"}); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	refused := map[string]actions.Action{
		"kind":           {Kind: "delete", Namespace: "shop", Name: "payments"},
		"exec":           {Kind: "kubectl exec", Namespace: "shop", Name: "payments"},
		"namespace":      {Kind: actions.Restart, Namespace: "kube-system", Name: "coredns"},
		"bad namespace":  {Kind: actions.Restart, Namespace: "Shop;rm", Name: "payments"},
		"no name":        {Kind: actions.Restart, Namespace: "shop"},
		"no replicas":    {Kind: actions.Scale, Namespace: "shop", Name: "payments"},
		"to zero":        {Kind: actions.Scale, Namespace: "shop", Name: "payments", Replicas: ptr(0)},
		"too many":       {Kind: actions.Scale, Namespace: "shop", Name: "payments", Replicas: ptr(11)},
		"restart extras": {Kind: actions.Restart, Namespace: "shop", Name: "payments", Replicas: ptr(3)},
		"gate name":      {Kind: actions.Gate, Namespace: "shop", Name: "payments", Gate: "promote", Op: actions.OpOpen},
		"gate op":        {Kind: actions.Gate, Namespace: "shop", Name: "payments", Gate: actions.GateConfirm, Op: "toggle"},
	}
	for name, a := range refused {
		var r *actions.Refusal
		if err := actions.Check(a, actions.DefaultBounds, []string{"shop"}); !errors.As(err, &r) {
			t.Errorf("%s: %s allowed (err %v)", name, a, err)
		}
	}
}

func TestRunWithoutBackendsRefuses(t *testing.T) {
	x := &actions.Executor{Bounds: actions.DefaultBounds, KubeErr: errors.New("kubernetes.mode is disabled")}
	var r *actions.Refusal
	if _, err := x.Run(context.Background(), actions.Action{Kind: actions.Restart, Namespace: "shop", Name: "a"}); !errors.As(err, &r) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("restart without Kubernetes: %v", err)
	}
	if _, err := x.Run(context.Background(), actions.Action{Kind: actions.Gate, Namespace: "shop", Name: "a", Gate: "gate", Op: "open"}); !errors.As(err, &r) {
		t.Errorf("gate without a load tester: %v", err)
	}
}

func TestFromGuard(t *testing.T) {
	if a := actions.FromGuard("rollout-restart", "shop", "payments", ""); a == nil || actions.Check(*a, actions.DefaultBounds, nil) != nil || a.Kind != actions.Restart {
		t.Errorf("rollout-restart: %+v", a)
	}
	a := actions.FromGuard("flagger-gate", "shop", "payments", "/rollback/open")
	if a == nil || a.Gate != actions.GateRollback || a.Op != actions.OpOpen || actions.Check(*a, actions.DefaultBounds, nil) != nil {
		t.Errorf("flagger-gate: %+v", a)
	}
	for _, k := range [][2]string{{"kubectl-read", ""}, {"flagger-gate", "/gate"}, {"rm", ""}} {
		if a := actions.FromGuard(k[0], "shop", "payments", k[1]); a != nil && actions.Check(*a, actions.DefaultBounds, nil) == nil {
			t.Errorf("%v became an executable action: %+v", k, a)
		}
	}
}
