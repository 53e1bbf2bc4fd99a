package stack

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// The gallery has one canary in every phase Flagger knows, as the canary
// capability reads them: the held ones await a decision at their gate.
func TestPhaseGalleryHasEveryPhaseAsTheCapabilityReadsIt(t *testing.T) {
	base := simulator.Object{"spec": map[string]any{"analysis": map[string]any{"interval": "1m", "threshold": int64(5),
		"stepWeights": []any{int64(10), int64(25), int64(50)},
		"webhooks": []any{
			map[string]any{"name": "confirm-promotion", "type": "confirm-promotion", "url": "http://sim/gate/check"},
			map[string]any{"name": "rollback", "type": "rollback", "url": "http://sim/rollback/check"},
		}}}}
	objs := phaseGallery(base, time.Now())
	seen := map[string]bool{}
	for _, o := range objs[1:] {
		c := canaries.FromObject(o)
		if c.Namespace != GalleryNamespace || c.Name == "" || seen[c.Phase] {
			t.Errorf("canary %s/%s in phase %q: want a new phase in %s", c.Namespace, c.Name, c.Phase, GalleryNamespace)
		}
		seen[c.Phase] = true
		gates := map[string]bool{}
		for _, g := range c.Gates {
			gates[g.Type] = g.LoadTester
		}
		if !gates["confirm-rollout"] || !gates["confirm-promotion"] || !gates["rollback"] {
			t.Errorf("%s gates %+v: want the three load tester gates", c.Name, c.Gates)
		}
	}
	for _, p := range simulator.Phases {
		if !seen[p] {
			t.Errorf("no canary in phase %s", p)
		}
	}
	if objs[0]["kind"] != "Namespace" || len(seen) != len(simulator.Phases) {
		t.Errorf("gallery: %d phases, first object %v", len(seen), objs[0]["kind"])
	}
	// The scenario's own webhooks are not changed by the copies.
	if hooks := base["spec"].(map[string]any)["analysis"].(map[string]any)["webhooks"].([]any); len(hooks) != 2 {
		t.Errorf("the base canary's webhooks changed: %v", hooks)
	}
}
