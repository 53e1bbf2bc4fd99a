package loadtester_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Against Flagger's own load tester: open, check, close for both gates,
// the namespace regexp's refusal, and an unreachable load tester named.
func TestGatesOnTheRealLoadTester(t *testing.T) {
	lt := harness.StartLoadTester(t, harness.LoadTesterOptions{NamespaceRegexp: "^shop$"})
	c, err := loadtester.New(lt.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	ctx := context.Background()
	check := func(g loadtester.Gate, ns string, want bool) {
		t.Helper()
		open, err := c.Check(ctx, g, "checkout", ns)
		if err != nil || open != want {
			t.Fatalf("Check(%s, %s) = %v, %v; want %v", g, ns, open, err, want)
		}
	}
	check(loadtester.Confirm, "shop", false)
	if err := c.Open(ctx, loadtester.Confirm, "checkout", "shop"); err != nil {
		t.Fatal(err)
	}
	check(loadtester.Confirm, "shop", true)
	check(loadtester.Rollback, "shop", false)
	if err := c.Open(ctx, loadtester.Rollback, "checkout", "shop"); err != nil {
		t.Fatal(err)
	}
	check(loadtester.Rollback, "shop", true)
	if err := c.Shut(ctx, loadtester.Confirm, "checkout", "shop"); err != nil {
		t.Fatal(err)
	}
	check(loadtester.Confirm, "shop", false)
	check(loadtester.Rollback, "shop", true)

	// Outside --namespace-regexp: refused with 403, which Open reports.
	err = c.Open(ctx, loadtester.Confirm, "checkout", "other")
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status != 403 {
		t.Fatalf("Open outside the namespace regexp: %v, want HTTP 403", err)
	}

	lt.Restart()
	check(loadtester.Rollback, "shop", false) // forgotten
}

func TestUnreachableLoadTester(t *testing.T) {
	c, err := loadtester.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Check(context.Background(), loadtester.Confirm, "checkout", "shop")
	if err == nil || !strings.Contains(err.Error(), "Flagger load tester at http://127.0.0.1:1/gate/check is unreachable") {
		t.Fatalf("error %v, want it to name the unreachable load tester", err)
	}
	if _, err := loadtester.New("flagger-loadtester.test"); err == nil {
		t.Fatal("a base URL without scheme was accepted")
	}
}
