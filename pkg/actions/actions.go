// Package actions runs the few remediation actions MeshWatch may carry out
// once a person approved them, and nothing else: a rollout restart of one
// Deployment, scaling one Deployment within fixed bounds, and opening or
// closing one of Flagger's load-tester gates for one canary. Every other
// remediation step stays advice for a person to follow.
//
// Check is the allowlist: an action it refuses is refused before any call.
// Run talks to the Kubernetes API through client-go's dynamic client (no
// typed clientset: the plugin's RSS) and to the load tester over HTTP, and
// returns what the server answered so the caller can record it.
package actions

import (
	"encoding/json"
	"fmt"
)

// Kind is an allowlisted action.
type Kind string

// The allowlist.
const (
	// Restart is `kubectl rollout restart deployment/<name>`: the pod
	// template's kubectl.kubernetes.io/restartedAt annotation set to now,
	// so the Deployment rolls its pods.
	Restart Kind = "restart"
	// Scale sets a Deployment's replicas (through its scale subresource),
	// within Bounds.
	Scale Kind = "scale"
	// Gate opens or closes a Flagger load-tester gate for one canary:
	// /gate/open|close (confirm-promotion, confirm-rollout) or
	// /rollback/open|close.
	Gate Kind = "gate"
)

// Gate names and operations.
const (
	GateConfirm  = "gate"
	GateRollback = "rollback"
	OpOpen       = "open"
	OpClose      = "close"
)

// RestartedAtAnnotation is the pod-template annotation kubectl sets.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// Action is one executable remediation step.
type Action struct {
	Kind Kind `json:"kind"`
	// Namespace and Name: the Deployment (restart, scale) or the Canary
	// (gate).
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Replicas is the scale target (scale only).
	Replicas *int32 `json:"replicas,omitempty"`
	// Gate is GateConfirm or GateRollback, Op OpOpen or OpClose (gate only).
	Gate string `json:"gate,omitempty"`
	Op   string `json:"op,omitempty"`
}

// String is the action as a person reads it.
func (a Action) String() string {
	switch a.Kind {
	case Restart:
		return fmt.Sprintf("rollout restart deployment %s/%s", a.Namespace, a.Name)
	case Scale:
		if a.Replicas != nil {
			return fmt.Sprintf("scale deployment %s/%s to %d replicas", a.Namespace, a.Name, *a.Replicas)
		}
		return fmt.Sprintf("scale deployment %s/%s", a.Namespace, a.Name)
	case Gate:
		return fmt.Sprintf("%s the %s gate of canary %s/%s", a.Op, a.Gate, a.Namespace, a.Name)
	}
	return fmt.Sprintf("%s %s/%s", a.Kind, a.Namespace, a.Name)
}

// Bounds limit scaling. They are fixed (DefaultBounds), not a setting: a
// suggestion a model wrote may never scale a workload to zero or past what
// a homelab node holds, whatever the configuration says.
type Bounds struct {
	MinReplicas int32 `json:"minReplicas"`
	MaxReplicas int32 `json:"maxReplicas"`
}

// DefaultBounds: at least one replica (scaling to zero is an outage, not a
// remediation), at most ten.
var DefaultBounds = Bounds{MinReplicas: 1, MaxReplicas: 10}

// Result is what one run did and what the server answered.
type Result struct {
	OK bool `json:"ok"`
	// Summary is one line for the page and the audit entry.
	Summary string `json:"summary"`
	// Status is the HTTP status the server answered (0: no answer).
	Status int `json:"status,omitempty"`
	// Answer is the relevant part of the server's answer: the Deployment's
	// resourceVersion, generation, restartedAt and replicas after a patch;
	// the load tester's body after a gate call.
	Answer json.RawMessage `json:"answer,omitempty" tstype:"unknown"`
}
