package canaries

// The canary model MeshWatch shows and the JSON the canary routes answer
// with. This file is an input of the TypeScript wire types:
// src/api/wire/canaries.ts is generated from it (mage generate), so the
// browser reads them by these names; keep only those names here.

import "time"

// StreamPath is the canaries Live channel's path
// (plugin/meshwatch-mesh-app/canaries in the browser).
const StreamPath = "canaries"

// Routes of the canary capability, under the plugin's resources.
const (
	RouteCanaries = "/canaries"
	// RouteDecision takes a sign-off: POST
	// /canaries/{namespace}/{name}/{decision} with {"comment"}.
	RouteDecision = "/canaries/{namespace}/{name}/{decision}"
)

// Phases of a Canary (status.phase), as Flagger v1.44 names them.
const (
	PhaseInitializing     = "Initializing"
	PhaseInitialized      = "Initialized"
	PhaseWaiting          = "Waiting"
	PhaseProgressing      = "Progressing"
	PhaseWaitingPromotion = "WaitingPromotion"
	PhasePromoting        = "Promoting"
	PhaseFinalising       = "Finalising"
	PhaseSucceeded        = "Succeeded"
	PhaseFailed           = "Failed"
	PhaseTerminating      = "Terminating"
	PhaseTerminated       = "Terminated"
)

// Decisions a person signs off on a canary.
const (
	// DecisionPromote opens the canary's confirm-promotion (and
	// confirm-rollout) gate: /gate/open on the load tester.
	DecisionPromote = "promote"
	// DecisionRollback opens its rollback gate: /rollback/open.
	DecisionRollback = "rollback"
)

// Kinds of history entries.
const (
	HistoryProgression = "progression"
	HistoryPromotion   = "promotion"
	HistoryRollback    = "rollback"
	HistoryHalt        = "halt"
	HistoryGate        = "gate"
	HistoryInfo        = "info"
)

// Canary is one Flagger canary as MeshWatch shows it.
type Canary struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// TargetKind and TargetName are spec.targetRef (a Deployment, say).
	TargetKind string `json:"targetKind"`
	TargetName string `json:"targetName"`
	// Phase is status.phase ("" until Flagger has seen the canary).
	Phase string `json:"phase"`
	// Weight is status.canaryWeight, the canary's share of the traffic (%).
	Weight int `json:"weight"`
	// Steps are the weights the analysis walks (stepWeights, or stepWeight
	// up to maxWeight); MaxWeight is the last before promotion. Empty for
	// a blue/green (iterations) or A/B analysis.
	Steps     []int `json:"steps"`
	MaxWeight int   `json:"maxWeight"`
	// Iterations is status.iterations; AnalysisIterations spec.analysis.
	// iterations (0: weight-based).
	Iterations         int `json:"iterations"`
	AnalysisIterations int `json:"analysisIterations"`
	// FailedChecks against Threshold: reaching it rolls the canary back.
	FailedChecks int `json:"failedChecks"`
	Threshold    int `json:"threshold"`
	// Interval is spec.analysis.interval as written ("1m").
	Interval string `json:"interval"`
	// LastTransition is status.lastTransitionTime.
	LastTransition time.Time   `json:"lastTransition"`
	Conditions     []Condition `json:"conditions"`
	Metrics        []Metric    `json:"metrics"`
	// Gates are the analysis's webhooks that gate it (confirm-rollout,
	// confirm-promotion, rollback), with the state MeshWatch wants them in.
	Gates []Gate `json:"gates"`
	// AwaitingDecision: the canary is held at a gate that only a sign-off
	// opens (Waiting at confirm-rollout, WaitingPromotion at
	// confirm-promotion).
	AwaitingDecision bool `json:"awaitingDecision"`
	// Status is flagger_canary_status (0 running, 1 done, 2 failed; -1
	// unknown: not in Prometheus).
	Status    int  `json:"status"`
	Suspended bool `json:"suspended"`
	// History is the canary's progressions, promotions, rollbacks, halts
	// and gate decisions, oldest first.
	History []HistoryEntry `json:"history"`
	// Revision is a short fingerprint of status.lastAppliedSpec: a new one
	// is a new revision, which waits for its own decision.
	Revision string `json:"revision,omitempty"`
}

// Condition is one of status.conditions (Flagger writes "Promoted").
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Metric is one analysis check, its threshold range and the value Flagger
// measured last (flagger_canary_metric_analysis).
type Metric struct {
	Name     string   `json:"name"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Interval string   `json:"interval,omitempty"`
	// Value is the last measured value (absent: not in Prometheus yet).
	Value *float64 `json:"value,omitempty"`
	// Passing is whether Value is within the range (absent with Value).
	Passing *bool `json:"passing,omitempty"`
}

// Gate is a gating webhook of the analysis and MeshWatch's intent for it.
type Gate struct {
	// Type is the webhook type (confirm-rollout, confirm-promotion,
	// rollback); URL where Flagger asks.
	Type string `json:"type"`
	URL  string `json:"url"`
	// LoadTester: the URL is a Flagger load tester's gate, so a sign-off
	// can open it.
	LoadTester bool `json:"loadTester"`
	// Open is the state MeshWatch keeps it in (and re-applies).
	Open bool `json:"open"`
	// By, At and Comment are the last decision on it.
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// HistoryEntry is one step of the canary's history.
type HistoryEntry struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	// Warning: Flagger reported it as a Warning event.
	Warning bool `json:"warning,omitempty"`
	// Count is how often the event repeated.
	Count int `json:"count,omitempty"`
}

// ListResponse is GET /canaries.
type ListResponse struct {
	Canaries []Canary `json:"canaries"`
	// Error says why the list is incomplete or stale (the API server is
	// unreachable, RBAC forbids reading), "" when it is current.
	Error string `json:"error,omitempty"`
}

// DecisionRequest is the body of a sign-off.
type DecisionRequest struct {
	Comment string `json:"comment"`
}

// DecisionResponse answers a sign-off.
type DecisionResponse struct {
	Canary Canary `json:"canary"`
	// Applied: the load tester took the gate; false when it is unreachable
	// (the decision is kept and re-applied when it answers).
	Applied bool   `json:"applied"`
	Note    string `json:"note,omitempty"`
}

// Frame field names, in frame order: one row per canary; canary holds the
// whole model as JSON.
const (
	FieldNamespace        = "namespace"
	FieldName             = "name"
	FieldPhase            = "phase"
	FieldWeight           = "weight"
	FieldAwaitingDecision = "awaitingDecision"
	FieldCanary           = "canary"
)

// FrameName is the name of the frames Frame builds.
const FrameName = "canaries"
