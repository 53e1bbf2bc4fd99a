package signoff

// The sign-off routes and the JSON they take and answer. This file is an
// input of the TypeScript wire types (src/api/wire/signoff.ts, mage
// generate): keep only those names here.

import (
	"encoding/json"
	"time"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
)

// Resource routes (under /api/plugins/<id>/resources). {id} is an incident
// id, {key} a suggestion key (Key).
const (
	// RouteIncident + "/{id}/suggestions" (GET, Viewer): the incident's
	// suggestions and their decisions; + "/{id}/audit" (GET, Viewer): its
	// audit trail; + "/{id}/scenario?analysis=A" (GET, Admin): a rejected
	// analysis as an eval case.
	RouteIncident = "/signoff/incidents"
	// RouteSuggestion + "/{key}/decision" (POST DecideRequest, sign-off
	// role): approve, reject or edit; + "/{key}/execute" (POST
	// ExecuteRequest, sign-off role): run an approved step's action.
	RouteSuggestion = "/signoff/suggestions"
	// RoutePending (GET, Viewer): how many suggestions await sign-off, per
	// incident.
	RoutePending = "/signoff/pending"
	// RouteVerify (GET, Admin): the chain's verdict.
	RouteVerify = "/signoff/audit/verify"
	// RouteExport (GET ?format=json|csv, Admin): the whole trail.
	RouteExport = "/signoff/audit/export"
)

// Statuses of a suggestion.
const (
	// StatusPending: proposed, nobody decided yet.
	StatusPending = "pending"
	// StatusEdited: a person changed its text or command; it still needs
	// an approval before anything runs.
	StatusEdited   = "edited"
	StatusApproved = "approved"
	StatusRejected = "rejected"
	// StatusExecuting: its action was started (it stays so only when
	// MeshWatch stopped before the result came back).
	StatusExecuting = "executing"
	// StatusExecuted: its action ran and the server accepted it.
	StatusExecuted = "executed"
)

// Decisions a person can make.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
	DecisionEdit    = "edit"
)

// Suggestion is one AI suggestion up for sign-off: an analysis's root cause
// (Step 0) or one of its remediation steps (Step 1..n).
type Suggestion struct {
	Incident int64 `json:"incident"`
	// Analysis is the analysis's id (its store id, as a string).
	Analysis string `json:"analysis"`
	// Step is 0 for the root cause as a whole, n for remediation step n.
	Step int `json:"step"`
	// Text is the root cause's statement or the step's action.
	Text string `json:"text"`
	// Command is the step's command for a person to run, if any.
	Command string `json:"command,omitempty"`
	// Action is set when the guard judged the step executable: one of the
	// allowlisted actions, run only once approved.
	Action *actions.Action `json:"action,omitempty"`
}

// Review is a suggestion with its decision, as the routes answer it.
type Review struct {
	Key        string     `json:"key"`
	Suggestion Suggestion `json:"suggestion"`
	// Original is the suggestion as the model wrote it, when edited.
	Original *Suggestion `json:"original,omitempty"`
	Status   string      `json:"status"`
	// Version is what a decision on it must send back (optimistic
	// concurrency: a stale one gets 409).
	Version   int64       `json:"version"`
	UpdatedAt time.Time   `json:"updatedAt"`
	By        audit.Actor `json:"by"`
	// Executable: approved, with an allowlisted action.
	Executable bool `json:"executable"`
	// Result is the last execution's.
	Result *actions.Result `json:"result,omitempty"`
}

// DecideRequest is a decision on one suggestion.
type DecideRequest struct {
	// Decision is approve, reject or edit.
	Decision string `json:"decision"`
	// Version is the suggestion's version the person saw.
	Version int64 `json:"version"`
	// Comment is required to reject or edit.
	Comment string `json:"comment,omitempty"`
	// Text and Command are the edited suggestion (edit only; an empty
	// Command removes it).
	Text    string `json:"text,omitempty"`
	Command string `json:"command,omitempty"`
}

// ExecuteRequest runs an approved step's action.
type ExecuteRequest struct {
	Version int64  `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// ExecuteResponse is the step after its run and what the server answered.
type ExecuteResponse struct {
	Review Review         `json:"review"`
	Result actions.Result `json:"result"`
}

// Pending counts the suggestions awaiting sign-off (pending or edited).
type Pending struct {
	Total     int               `json:"total"`
	Incidents []PendingIncident `json:"incidents"`
}

// PendingIncident is one incident's count.
type PendingIncident struct {
	Incident int64 `json:"incident"`
	Count    int   `json:"count"`
}

// Trail is an incident's audit entries and whether the whole chain holds.
type Trail struct {
	Entries []audit.Entry `json:"entries"`
	ChainOK bool          `json:"chainOk"`
}

// ScenarioFormat names the rejected-analysis export's format.
const ScenarioFormat = "meshwatch.rejected-analysis/v1"

// Scenario is a rejected analysis exported as an evaluation case: the
// evidence the model was given, what it concluded, and the person's verdict
// (the comment says what the cause really was). With the truth given
// (?cause=, and ?namespace= &workload= unless the cause is "none"), Name
// and Cases make the file pkg/analysis's captured-scenario format
// (testdata/packs/<name>.json, the write-up's evaluation set) as it is.
type Scenario struct {
	Name  string         `json:"scenario"`
	Cases []ScenarioCase `json:"cases"`

	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exportedAt"`
	Incident   int64     `json:"incident"`
	Analysis   string    `json:"analysis"`
	// Pack and Findings are the incident's evidence capture (pkg/evidence's
	// pack and pkg/findings' ranked findings, as JSON).
	Pack     json.RawMessage `json:"pack" tstype:"unknown"`
	Findings json.RawMessage `json:"findings" tstype:"unknown"`
	// Rejected is the root cause as the model wrote it; Steps the
	// remediation steps with their decisions.
	Rejected Suggestion `json:"rejected"`
	Steps    []Review   `json:"steps"`
	Verdict  Verdict    `json:"verdict"`
}

// ScenarioCase is one case of the captured-scenario format.
type ScenarioCase struct {
	Truth    *Truth          `json:"truth,omitempty"`
	Pack     json.RawMessage `json:"pack" tstype:"unknown"`
	Findings json.RawMessage `json:"findings" tstype:"unknown"`
}

// Truth is what the fault really was, as the person exporting says.
type Truth struct {
	Namespace string `json:"namespace"`
	Workload  string `json:"workload"`
	Cause     string `json:"cause"`
}

// Verdict is the person's rejection.
type Verdict struct {
	Decision string      `json:"decision"`
	By       audit.Actor `json:"by"`
	At       time.Time   `json:"at"`
	Comment  string      `json:"comment"`
}
