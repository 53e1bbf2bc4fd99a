package analysis

// The types an analysis is stored and shown as (the incident keeps Result
// as JSON; the page reads it): the result, the model's answer, the guard's
// verdicts and what was shrunk. Only types and constants live here, for
// the TypeScript wire types (tygo) to be generated from this one file.

import (
	"time"

	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// Status of a Result.
type Status string

const (
	// StatusDone: the model answered with a valid Answer (the guard's
	// verdicts say what to show as supported and runnable).
	StatusDone Status = "done"
	// StatusFallback: no usable answer; the page shows the deterministic
	// findings and Fallback says why.
	StatusFallback Status = "fallback"
)

// Result is an analysis as the incident stores it and the page shows it.
type Result struct {
	Status Status `json:"status"`
	// Answer and Guard are set when Status is done.
	Answer *Answer   `json:"answer,omitempty"`
	Guard  *Verdicts `json:"guard,omitempty"`
	// Fallback says why the deterministic findings stand alone; Error
	// classifies a failure (ErrorKind values of pkg/systems/ollama, or
	// "invalid-answer", "budget").
	Fallback string     `json:"fallback,omitempty"`
	Error    *ErrorInfo `json:"error,omitempty"`
	// Invalid is the model's last text when it was not a valid Answer
	// (capped at MaxInvalidText bytes), and why.
	Invalid       string `json:"invalid,omitempty"`
	InvalidReason string `json:"invalidReason,omitempty"`

	Model      string `json:"model"`
	NumCtx     int    `json:"numCtx"`
	NumPredict int    `json:"numPredict"`
	// Context is what /api/show and /api/ps said of the model (nil when
	// they could not be read).
	Context *ollama.ModelInfo `json:"context,omitempty"`
	// Warnings: num_ctx over the trained maximum, a reload, an answer
	// cut at num_predict.
	Warnings []string `json:"warnings,omitempty"`

	// Tokens: the estimate before sending, the budget (PromptBudget:
	// num_ctx − num_predict − RetryReserve), and Ollama's counts after.
	Tokens Tokens `json:"tokens"`
	// Shrunk is what Fit left out to fit the budget (empty: nothing).
	Shrunk []ShrinkStep `json:"shrunk,omitempty"`
	// Timings are Ollama's (milliseconds) and the wall time here.
	Timings  Timings `json:"timings"`
	Attempts int     `json:"attempts"`
	// DoneReason is Ollama's ("stop"; "length" when num_predict cut it).
	DoneReason string    `json:"doneReason,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// ErrorInfo is a failure as the page shows it.
type ErrorInfo struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Error kinds of this package (beside pkg/systems/ollama's ErrorKind
// values; KindBudget is ollama.ErrContextTooSmall, written out for the
// TypeScript wire types).
const (
	KindInvalidAnswer = "invalid-answer"
	KindBudget        = "context-too-small"
)

// Tokens are the prompt's and the answer's token counts.
type Tokens struct {
	Estimate int `json:"estimate"`
	Budget   int `json:"budget"`
	// Prompt is Ollama's prompt_eval_count, Output its eval_count (of the
	// last attempt). A prompt_eval_count much lower than the estimate with
	// a cached prompt prefix is normal (Ollama counts only what it
	// evaluated).
	Prompt int `json:"prompt"`
	Output int `json:"output"`
}

// Timings are Ollama's metrics in milliseconds, and the wall time from
// Run's start (queue wait included) to its end.
type Timings struct {
	QueueMs      int64 `json:"queueMs"`
	LoadMs       int64 `json:"loadMs"`
	PromptEvalMs int64 `json:"promptEvalMs"`
	EvalMs       int64 `json:"evalMs"`
	TotalMs      int64 `json:"totalMs"`
	WallMs       int64 `json:"wallMs"`
	// FirstChunkMs is from the request sent to the first streamed text.
	FirstChunkMs int64 `json:"firstChunkMs"`
}

// MaxInvalidText caps the invalid answer kept in a Result.
const MaxInvalidText = 2000

// Answer is the model's write-up, as the JSON schema (Schema) constrains
// it. "Insufficient evidence" is a valid answer: rootCause.cause "none"
// (namespace and workload empty or the subject's), a summary that says
// what is missing, confidence "low", and no remediation steps.
type Answer struct {
	// Summary is two or three sentences for the incident page.
	Summary   string    `json:"summary"`
	RootCause RootCause `json:"rootCause"`
	// Confidence is "low", "medium" or "high".
	Confidence  string `json:"confidence"`
	Remediation []Step `json:"remediation"`
}

// RootCause is the workload at fault and why.
type RootCause struct {
	Namespace string `json:"namespace"`
	Workload  string `json:"workload"`
	// Cause is from the findings' vocabulary (findings.Causes), "none"
	// included.
	Cause       findings.Cause `json:"cause"`
	Explanation string         `json:"explanation"`
	// Evidence are the evidence ids the claim rests on.
	Evidence []string `json:"evidence"`
}

// Step is one remediation step.
type Step struct {
	Action string `json:"action"`
	Why    string `json:"why"`
	// Command is a shell command when one does it; the guard decides
	// whether the page offers it as an action (Guard, Allowlist).
	Command  string   `json:"command,omitempty"`
	Evidence []string `json:"evidence"`
	// Risk is "low", "medium" or "high".
	Risk string `json:"risk"`
}

// Verdicts are the guard's findings about an answer, for the page: which
// claims are supported, which steps are flagged, which commands may be
// offered as an action.
type Verdicts struct {
	RootCause Claim       `json:"rootCause"`
	Steps     []StepCheck `json:"steps"`
	// Unsupported counts the claims (root cause and steps) marked
	// unsupported; Flagged the steps naming a workload absent from the
	// evidence.
	Unsupported int `json:"unsupported"`
	Flagged     int `json:"flagged"`
}

// Claim is the guard's verdict on one cited claim.
type Claim struct {
	// Supported: the claim cites at least one id and every id it cites is
	// in the pack.
	Supported bool `json:"supported"`
	// Cited are the ids the claim cites that the pack holds; Unknown
	// those it does not.
	Cited   []string `json:"cited"`
	Unknown []string `json:"unknown,omitempty"`
	// Reasons say why a claim is unsupported or flagged.
	Reasons []string `json:"reasons,omitempty"`
	// UnknownWorkloads are workloads the claim names that the evidence
	// does not hold; non-empty means flagged.
	UnknownWorkloads []string `json:"unknownWorkloads,omitempty"`
}

// StepCheck is the verdict on one remediation step.
type StepCheck struct {
	Claim `tstype:",extends"`
	// Runnable: the command is on the allowlist and names workloads in
	// the evidence; the page may offer it as an action (after a person's
	// sign-off). Otherwise it shows as text only, and CommandReason says
	// why.
	Runnable      bool    `json:"runnable"`
	Action        *Action `json:"action,omitempty"`
	CommandReason string  `json:"commandReason,omitempty"`
}

// ActionKind is what an allowlisted command does.
type ActionKind string

// Action kinds.
const (
	// ActionKubectlRead: kubectl get, describe, logs, top or events.
	ActionKubectlRead ActionKind = "kubectl-read"
	// ActionRolloutRestart: kubectl rollout restart of one Deployment.
	ActionRolloutRestart ActionKind = "rollout-restart"
	// ActionFlaggerGate: open or close a Flagger load tester gate
	// (/gate/open, /gate/close, /rollback/open, /rollback/close) for one
	// canary. MeshWatch runs it through its own gate keeper with the
	// configured load tester, never the URL's host from the answer.
	ActionFlaggerGate ActionKind = "flagger-gate"
)

// Action is an allowlisted command, parsed: what the page may offer to
// run (after sign-off), through MeshWatch's own clients, never a shell.
type Action struct {
	Kind      ActionKind `json:"kind"`
	Namespace string     `json:"namespace,omitempty"`
	// Name is the Deployment (rollout restart), the canary (gate) or the
	// object read, when one is named.
	Name string `json:"name,omitempty"`
	// Gate is the load tester path ("/gate/open").
	Gate string `json:"gate,omitempty"`
	// Args are the kubectl arguments after "kubectl" (reads).
	Args []string `json:"args,omitempty"`
}

// ShrinkStep is one step Fit took to make the prompt fit, for the record
// the incident keeps ("never cut silently").
type ShrinkStep struct {
	// Step names the step (the priority order below).
	Step string `json:"step"`
	// Dropped are the evidence ids (or, for findings, "cause namespace/
	// workload") the step left out; Count how many things in all (a log
	// example has no id of its own: drop-log-examples lists its pattern's
	// id; a compaction counts the examples and neighbours it cut too).
	Dropped []string `json:"dropped,omitempty"`
	Count   int      `json:"count"`
	// Tokens is the estimate after the step.
	Tokens int `json:"tokens"`
}
