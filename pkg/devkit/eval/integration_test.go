package eval

// The evaluation on real servers (pkg/devkit/harness: Prometheus, promtool,
// Loki). It skips when the binaries are missing, and fails under CI=true.
// It simulates and backfills every scenario (about a minute each on two
// busy cores), so give it time:
//
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/devkit/eval/ -run Integration -v -timeout 40m

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// resilienceEvidence: the evidence kind each resilience scenario's top
// finding must cite (issue 26).
var resilienceEvidence = map[string]evidence.Kind{
	"circuit-breaker-open": evidence.KindEdgeOverflow,
	"retry-storm":          evidence.KindEdgeRetries,
	"outlier-ejection":     evidence.KindEdgeEjections,
}

// MinAccuracy is the goal: top-1 accuracy over every scenario's faults and
// control runs (issue 19).
const MinAccuracy = 0.9

func TestIntegrationEvalAccuracy(t *testing.T) {
	for _, b := range []string{harness.BinPromtool, harness.BinPrometheus, harness.BinLoki} {
		harness.RequireBinary(t, b)
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < 25*time.Minute {
		msg := fmt.Sprintf("the evaluation of %d scenarios needs about 20 minutes; run with -timeout 40m", len(simulator.Scenarios()))
		if ci := strings.ToLower(os.Getenv("CI")); ci == "true" || ci == "1" || ci == "yes" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var log strings.Builder
	rep, err := Run(context.Background(), Options{RulesDir: "../../../deploy/base/monitoring/rules",
		Logf: func(format string, args ...any) { t.Logf(format, args...) }})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteDetails(&log)
	log.WriteString("\n")
	rep.WriteTable(&log)
	t.Log("\n" + log.String())

	if len(rep.Results) != len(simulator.Scenarios()) {
		t.Fatalf("%d results for %d scenarios", len(rep.Results), len(simulator.Scenarios()))
	}
	passed, items, acc := rep.Accuracy()
	if acc < MinAccuracy {
		t.Errorf("top-1 accuracy %d/%d = %.1f %%, want at least %.0f %%", passed, items, 100*acc, 100*MinAccuracy)
	}
	for _, res := range rep.Results {
		if res.Err != nil {
			t.Errorf("%s: %v", res.Scenario, res.Err)
			continue
		}
		if len(res.Faults) == 0 {
			// Control runs: no finding at or above the threshold, in their
			// incidents or in the probe of any workload of their mesh.
			probes := 0
			for _, inc := range res.Incidents {
				if inc.Probe {
					probes++
				}
				for _, f := range inc.Findings {
					t.Errorf("%s: %s: finding above the threshold: %s", res.Scenario, inc.Key, f)
				}
			}
			if probes < 4 {
				t.Errorf("%s: only %d workloads probed", res.Scenario, probes)
			}
			continue
		}
		if res.Alerts == 0 {
			t.Errorf("%s: no alert fired", res.Scenario)
		}
		// The resilience scenarios' findings cite what the callers'
		// proxies counted: the refused calls, the retries, the ejections.
		if kind, ok := resilienceEvidence[res.Scenario]; ok {
			cited := false
			for i, g := range res.Matched {
				if g < 0 || i >= len(res.Faults) {
					continue
				}
				for _, id := range res.Groups[g].Top.Evidence {
					cited = cited || strings.HasPrefix(id, kind.Prefix()+"-")
				}
			}
			if !cited {
				t.Errorf("%s: the top finding cites no %s evidence: %v", res.Scenario, kind, res.Tops())
			}
		}
		// Every finding cites evidence its pack holds.
		for _, inc := range res.Incidents {
			known := map[string]bool{}
			for _, id := range inc.Pack.IDs() {
				known[id] = true
			}
			for _, f := range inc.Findings {
				if f.Score < findings.Threshold || len(f.Evidence) == 0 {
					t.Errorf("%s: %s", res.Scenario, f)
				}
				for _, id := range f.Evidence {
					if !known[id] {
						t.Errorf("%s: %s cites %s, not in its pack", res.Scenario, f, id)
					}
				}
			}
		}
	}
}
