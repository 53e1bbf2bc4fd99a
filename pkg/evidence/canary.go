package evidence

import "time"

// CanaryID is the evidence id of the pack's canary.
const CanaryID = "k1"

// MaxCanaryEvents bounds the canary's events in a pack.
const MaxCanaryEvents = 5

// Canary is the Flagger canary of the incident's subject (the subject is
// its target or the target's primary), as the Kubernetes API had it at the
// capture: for a rollback, the one object that says what failed. It is not
// read by Collect (which knows Prometheus, Loki and Tempo) but added by the
// capture stage from the canary watch.
type Canary struct {
	ID        string `json:"id"`
	Namespace string `json:"ns"`
	Name      string `json:"name"`
	// Target is the Deployment the canary rolls out.
	Target string `json:"target"`
	// Phase is Flagger's status.phase; Weight the canary's traffic share
	// (%); FailedChecks against Threshold (reaching it rolls back).
	Phase        string `json:"phase"`
	Weight       int    `json:"weight"`
	FailedChecks int    `json:"failed"`
	Threshold    int    `json:"threshold"`
	// Checks are the analysis's metric checks with the last measured value.
	Checks []CanaryCheck `json:"checks,omitempty"`
	// Events are the last MaxCanaryEvents of the canary's history (Flagger's
	// events and MeshWatch's gate decisions), oldest first.
	Events []CanaryEvent `json:"events,omitempty"`
}

// CanaryCheck is one metric check: passing when Value is within [Min, Max].
type CanaryCheck struct {
	Name    string   `json:"name"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Value   *float64 `json:"value,omitempty"`
	Passing *bool    `json:"ok,omitempty"`
}

// CanaryEvent is one line of the canary's history.
type CanaryEvent struct {
	At      time.Time `json:"at"`
	Message string    `json:"msg"`
	Warning bool      `json:"warn,omitempty"`
}
