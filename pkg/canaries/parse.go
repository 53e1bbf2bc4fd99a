// Package canaries is MeshWatch's view of Flagger's canaries and its
// sign-off gates on them. Flagger is the engine: MeshWatch reads its
// Canaries and their Events through an informer (pkg/systems/kubernetes'
// dynamic client, never Flagger's Go module), adds the analysis values
// Flagger exports to Prometheus, and gates promotion and rollback through
// the load tester's gates (pkg/systems/loadtester), which a person opens
// with a recorded sign-off (Editor or higher).
package canaries

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
	"strings"
	"time"
)

// Webhook types that gate a canary.
const (
	HookConfirmRollout   = "confirm-rollout"
	HookConfirmPromotion = "confirm-promotion"
	HookRollback         = "rollback"
)

// FromObject reads a Canary (flagger.app/v1beta1, as unstructured JSON)
// into the model: spec, status and gates; metrics values, gate intents and
// history come from elsewhere. Missing or mistyped fields are left zero.
func FromObject(obj map[string]any) Canary {
	md, spec, st := mapAt(obj, "metadata"), mapAt(obj, "spec"), mapAt(obj, "status")
	an := mapAt(spec, "analysis")
	if an == nil {
		an = mapAt(spec, "canaryAnalysis") // v1alpha3's name, still accepted
	}
	c := Canary{
		Namespace:          str(md, "namespace"),
		Name:               str(md, "name"),
		TargetKind:         str(mapAt(spec, "targetRef"), "kind"),
		TargetName:         str(mapAt(spec, "targetRef"), "name"),
		Phase:              str(st, "phase"),
		Weight:             num(st, "canaryWeight"),
		Iterations:         num(st, "iterations"),
		FailedChecks:       num(st, "failedChecks"),
		AnalysisIterations: num(an, "iterations"),
		Threshold:          num(an, "threshold"),
		Interval:           str(an, "interval"),
		LastTransition:     timeAt(st, "lastTransitionTime"),
		Suspended:          boolAt(spec, "suspend"),
		Status:             -1,
		Conditions:         []Condition{},
		Metrics:            []Metric{},
		Gates:              []Gate{},
		History:            []HistoryEntry{},
	}
	if c.Iterations < 0 { // Flagger writes iterations-1 in WaitingPromotion
		c.Iterations = 0
	}
	if c.Threshold <= 0 {
		c.Threshold = 1 // Flagger's default
	}
	if c.Interval == "" {
		c.Interval = "1m"
	}
	if spec := str(st, "lastAppliedSpec"); spec != "" {
		sum := sha256.Sum256([]byte(spec))
		c.Revision = hex.EncodeToString(sum[:4])
	}
	c.Steps, c.MaxWeight = steps(an)
	for _, raw := range slice(st, "conditions") {
		m, _ := raw.(map[string]any)
		c.Conditions = append(c.Conditions, Condition{Type: str(m, "type"), Status: str(m, "status"),
			Reason: str(m, "reason"), Message: str(m, "message"), LastTransitionTime: timeAt(m, "lastTransitionTime")})
	}
	for _, raw := range slice(an, "metrics") {
		m, _ := raw.(map[string]any)
		mt := Metric{Name: str(m, "name"), Interval: str(m, "interval")}
		tr := mapAt(m, "thresholdRange")
		mt.Min, mt.Max = floatPtr(tr, "min"), floatPtr(tr, "max")
		if mt.Min == nil && mt.Max == nil { // the deprecated single threshold
			if v := floatPtr(m, "threshold"); v != nil {
				if mt.Name == "request-success-rate" {
					mt.Min = v
				} else {
					mt.Max = v
				}
			}
		}
		c.Metrics = append(c.Metrics, mt)
	}
	for _, raw := range slice(an, "webhooks") {
		m, _ := raw.(map[string]any)
		typ := str(m, "type")
		if typ != HookConfirmRollout && typ != HookConfirmPromotion && typ != HookRollback {
			continue
		}
		u := str(m, "url")
		_, lt := LoadTesterBase(u, typ)
		c.Gates = append(c.Gates, Gate{Type: typ, URL: u, LoadTester: lt})
	}
	return c
}

// steps is the weights the analysis walks and its maximum, as Flagger's
// scheduler computes them (maxWeight, nextStepWeight): stepWeights capped
// at 100, or stepWeight up to maxWeight (default 100).
func steps(an map[string]any) ([]int, int) {
	out := []int{}
	if sw := slice(an, "stepWeights"); len(sw) > 0 {
		for _, v := range sw {
			w := int(toFloat(v))
			if w > 100 {
				w = 100
			}
			if w > 0 {
				out = append(out, w)
			}
		}
		if len(out) == 0 {
			return out, 0
		}
		return out, out[len(out)-1]
	}
	step, max := num(an, "stepWeight"), num(an, "maxWeight")
	if max <= 0 {
		max = 100
	}
	if step <= 0 {
		return out, 0
	}
	for w := step; w < max; w += step {
		out = append(out, w)
	}
	return append(out, max), max
}

// LoadTesterBase is the load tester's base URL when u is a load tester gate
// of webhook type typ (…/gate/check for confirm gates, …/rollback/check for
// rollback), and whether it is one.
func LoadTesterBase(u, typ string) (string, bool) {
	suffix := "/gate/check"
	if typ == HookRollback {
		suffix = "/rollback/check"
	}
	u = strings.TrimRight(u, "/")
	base, ok := strings.CutSuffix(u, suffix)
	if !ok || !(strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://")) {
		return "", false
	}
	return base, true
}

// awaiting reports whether c is held at a gate only a sign-off opens.
func awaiting(c Canary) bool {
	for _, g := range c.Gates {
		if g.Open {
			continue
		}
		if (c.Phase == PhaseWaitingPromotion && g.Type == HookConfirmPromotion) ||
			(c.Phase == PhaseWaiting && g.Type == HookConfirmRollout) {
			return true
		}
	}
	return false
}

// passing is whether v lies within [min, max].
func passing(v float64, min, max *float64) bool {
	if math.IsNaN(v) {
		return false
	}
	return (min == nil || v >= *min) && (max == nil || v <= *max)
}

// Sort orders canaries by namespace, then name.
func Sort(list []Canary) {
	sort.Slice(list, func(i, j int) bool {
		if list[i].Namespace != list[j].Namespace {
			return list[i].Namespace < list[j].Namespace
		}
		return list[i].Name < list[j].Name
	})
}

func mapAt(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func slice(m map[string]any, k string) []any {
	v, _ := m[k].([]any)
	return v
}

func boolAt(m map[string]any, k string) bool {
	v, _ := m[k].(bool)
	return v
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case float64:
		return n
	case int32:
		return float64(n)
	}
	return math.NaN()
}

func num(m map[string]any, k string) int {
	f := toFloat(m[k])
	if math.IsNaN(f) {
		return 0
	}
	return int(f)
}

func floatPtr(m map[string]any, k string) *float64 {
	if _, ok := m[k]; !ok {
		return nil
	}
	f := toFloat(m[k])
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

func timeAt(m map[string]any, k string) time.Time {
	t, err := time.Parse(time.RFC3339, str(m, k))
	if err != nil {
		return time.Time{}
	}
	return t
}
