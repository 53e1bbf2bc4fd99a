package actions_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// TestGateOnTheLoadTester opens and closes a gate on Flagger's own load
// tester (built by the harness's tools; skipped where it is not) and reads
// /gate/check the way Flagger does: 403 closed, 200 open.
func TestGateOnTheLoadTester(t *testing.T) {
	if _, err := os.Stat(filepath.Join(harness.ToolsDir(), "bin", harness.BinFlaggerLoadTester)); err != nil {
		if _, err := exec.LookPath(harness.BinFlaggerLoadTester); err != nil {
			t.Skipf("%s is not installed here (pkg/devkit/harness builds it with the canary tools)", harness.BinFlaggerLoadTester)
		}
	}
	lt := harness.StartLoadTester(t, harness.LoadTesterOptions{})
	x := &actions.Executor{LoadTester: lt.URL, Bounds: actions.DefaultBounds}
	check := func() int {
		resp, err := http.Post(lt.URL+"/gate/check", "application/json", stringsReader(`{"name":"payments","namespace":"shop"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := check(); c != http.StatusForbidden {
		t.Fatalf("a new gate answers %d, want 403", c)
	}
	for _, step := range []struct {
		op   string
		want int
	}{{actions.OpOpen, http.StatusOK}, {actions.OpClose, http.StatusForbidden}} {
		res, err := x.Run(context.Background(), actions.Action{Kind: actions.Gate, Namespace: "shop", Name: "payments", Gate: actions.GateConfirm, Op: step.op})
		if err != nil || !res.OK || res.Status != http.StatusAccepted {
			t.Fatalf("%s: %v %+v", step.op, err, res)
		}
		if c := check(); c != step.want {
			t.Errorf("after %s, /gate/check answers %d, want %d", step.op, c, step.want)
		}
	}
}
