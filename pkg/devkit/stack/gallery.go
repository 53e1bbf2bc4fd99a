package stack

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// GalleryNamespace holds the phase gallery's canaries.
const GalleryNamespace = "canary-phases"

// galleryPhase is one Flagger phase as Flagger leaves a Canary's status in
// it: the traffic weight, the failed checks, and the Promoted condition's
// status and message (Flagger v1.44's scheduler wording).
type galleryPhase struct {
	phase, promoted, message string
	weight, failed           int64
}

// galleryPhases are every phase of Flagger v1.44's Canary, in rollout
// order.
var galleryPhases = []galleryPhase{
	{simulator.PhaseInitializing, "Unknown", "New Deployment detected, starting initialization.", 0, 0},
	{simulator.PhaseInitialized, "True", "Deployment initialization completed.", 0, 0},
	{simulator.PhaseWaiting, "Unknown", "Waiting for approval.", 0, 0},
	{simulator.PhaseProgressing, "Unknown", "New revision detected, progressing canary analysis.", 25, 1},
	{simulator.PhaseWaitingPromotion, "Unknown", "Waiting for approval.", 50, 0},
	{simulator.PhasePromoting, "Unknown", "Canary analysis completed, starting primary rolling update.", 50, 0},
	{simulator.PhaseFinalising, "Unknown", "Canary analysis completed, routing all traffic to primary.", 0, 0},
	{simulator.PhaseSucceeded, "True", "Canary analysis completed successfully, promotion finished.", 0, 0},
	{simulator.PhaseFailed, "False", "Canary analysis failed, Deployment scaled to zero.", 0, 5},
	{simulator.PhaseTerminating, "Unknown", "Canary is being deleted.", 0, 0},
	{simulator.PhaseTerminated, "Unknown", "Canary deleted; the target is restored.", 0, 0},
}

// phaseGallery is one Canary per Flagger phase in GalleryNamespace, each a
// copy of the scenario's Canary (its analysis, thresholds and gates) with
// the status Flagger leaves in that phase: so the Canaries page can be
// seen, and tested, in every phase at once. They hold still: no Flagger
// moves them.
func phaseGallery(canary simulator.Object, now time.Time) []simulator.Object {
	spec, _ := canary["spec"].(map[string]any)
	out := []simulator.Object{{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": GalleryNamespace, "labels": map[string]any{"istio-injection": "enabled"}}}}
	for i, p := range galleryPhases {
		name := "phase-" + strings.ToLower(p.phase)
		at := now.Add(-time.Duration(len(galleryPhases)-i) * time.Minute).UTC().Format(time.RFC3339)
		s := map[string]any{}
		for k, v := range spec {
			s[k] = v
		}
		s["targetRef"] = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
		s["analysis"] = withRolloutGate(s["analysis"])
		out = append(out, simulator.Object{"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
			"metadata": map[string]any{"name": name, "namespace": GalleryNamespace, "generation": int64(2)},
			"spec":     s,
			"status": map[string]any{"phase": p.phase, "canaryWeight": p.weight, "failedChecks": p.failed, "iterations": int64(0),
				"lastTransitionTime": at, "lastAppliedSpec": fmt.Sprintf("%010d", i+1), "lastPromotedSpec": "0000000000",
				"conditions": []any{map[string]any{"type": "Promoted", "status": p.promoted, "reason": p.phase, "message": p.message,
					"lastUpdateTime": at, "lastTransitionTime": at}}}})
	}
	return out
}

// withRolloutGate is a copy of an analysis with a confirm-rollout gate
// (where its confirm-promotion gate asks), so the Waiting canary waits
// for a decision as Flagger's would.
func withRolloutGate(analysis any) any {
	a, ok := analysis.(map[string]any)
	if !ok {
		return analysis
	}
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	hooks, _ := a["webhooks"].([]any)
	var gate any
	for _, h := range hooks {
		if m, _ := h.(map[string]any); m["type"] == "confirm-rollout" {
			return out
		} else if m["type"] == "confirm-promotion" {
			gate = m["url"]
		}
	}
	if gate != nil {
		out["webhooks"] = append([]any{map[string]any{"name": "confirm-rollout", "type": "confirm-rollout", "url": gate, "timeout": "5s"}}, hooks...)
	}
	return out
}
