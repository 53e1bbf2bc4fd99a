package stack

import (
	"reflect"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// The demo's world is the fault's scenario with the rollout's canary added
// on the same mesh: the fault's ground truth and effects, the rollout's
// effects at their own times, valid against the mesh.
func TestDemoScenarioComposesTheFaultAndTheRollout(t *testing.T) {
	d, err := lookupScenario(DemoScenario)
	if err != nil {
		t.Fatal(err)
	}
	fault, _ := simulator.LookupScenario(DemoFault)
	rollout, _ := simulator.LookupScenario(DemoRollout)
	if !reflect.DeepEqual(d.Truth, fault.Truth) {
		t.Errorf("truth %+v, want the fault's %+v", d.Truth, fault.Truth)
	}
	want := append(append([]simulator.Effect{}, fault.Effects...), rollout.Effects...)
	if !reflect.DeepEqual(d.Effects, want) {
		t.Errorf("effects %+v, want the fault's then the rollout's %+v", d.Effects, want)
	}
	if d.Duration < fault.Duration || d.Duration < rollout.Duration {
		t.Errorf("duration %v shorter than a part's", d.Duration)
	}
	if !rollsOutCanary(d) {
		t.Error("the demo's canary would not be mirrored into the kube-apiserver")
	}
	m, err := d.Mesh()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(m); err != nil {
		t.Error(err)
	}
	// Composing left the built-in scenarios as they were.
	if again, _ := simulator.LookupScenario(DemoFault); !reflect.DeepEqual(again.Effects, fault.Effects) {
		t.Error("the fault's scenario changed")
	}
}

// Which scenarios get the canary mirror is unchanged for the built-in ones:
// those with a rollout are the canary ones.
func TestRollsOutCanaryAgreesWithTheBuiltInCanaryScenarios(t *testing.T) {
	for _, sc := range simulator.Scenarios() {
		if got, want := rollsOutCanary(sc), hasCanary(sc.Name); got != want {
			t.Errorf("%s: rollsOutCanary %v, hasCanary %v", sc.Name, got, want)
		}
	}
	if _, err := lookupScenario("no-such-scenario"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}
