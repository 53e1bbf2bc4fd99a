package stack

import (
	"fmt"
	"slices"

	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// DemoScenario is the scenario name of the demo's world (`meshwatch demo`,
// or `meshwatch preview --stack demo`): the mesh under DemoFault, and, in
// the same run and on the same mesh, the rollout of DemoRollout waiting
// at its promotion gate. It is composed from those two built-in scenarios
// (their effects and timings, the fault's ground truth), so the demo shows
// what the preview suite tests, nothing staged for it.
const DemoScenario = "demo"

// The built-in scenarios the demo is made of.
const (
	DemoFault   = "sidecar-memory-leak"
	DemoRollout = "canary-promotion-gate"
)

// lookupScenario is simulator.LookupScenario, plus DemoScenario.
func lookupScenario(name string) (*simulator.Scenario, error) {
	if name == DemoScenario {
		return demoScenario()
	}
	return simulator.LookupScenario(name)
}

// demoScenario runs DemoFault's and DemoRollout's effects together over
// the longer of their durations. Both must run on the same mesh (a
// canary on one workload, the fault on another, as in a real cluster).
// With the history backfilled over the whole run, the fault's alert has
// been firing for hours at start (its `for` state restored, forstate.go)
// and the canary has reached its gate.
func demoScenario() (*simulator.Scenario, error) {
	fault, err := simulator.LookupScenario(DemoFault)
	if err != nil {
		return nil, err
	}
	rollout, err := simulator.LookupScenario(DemoRollout)
	if err != nil {
		return nil, err
	}
	if fault.TopologyName() != rollout.TopologyName() {
		return nil, fmt.Errorf("demo: %s runs on %s, %s on %s: they need one mesh", DemoFault, fault.TopologyName(), DemoRollout, rollout.TopologyName())
	}
	d := *fault
	d.Name = DemoScenario
	d.Description = fmt.Sprintf("%s Meanwhile: %s", fault.Description, rollout.Description)
	d.Duration = max(fault.Duration, rollout.Duration)
	d.Effects = append(slices.Clone(fault.Effects), rollout.Effects...)
	m, err := d.Mesh()
	if err != nil {
		return nil, err
	}
	if err := d.Validate(m); err != nil {
		return nil, fmt.Errorf("demo scenario: %w", err)
	}
	return &d, nil
}

// rollsOutCanary reports whether a scenario has a canary rollout (its
// Canary is then mirrored into a kube-apiserver for the Canaries page).
func rollsOutCanary(sc *simulator.Scenario) bool {
	return slices.ContainsFunc(sc.Effects, func(e simulator.Effect) bool { return e.Kind == simulator.CanaryProgression })
}
