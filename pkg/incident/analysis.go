package incident

import (
	"encoding/json"
	"time"
)

// Analysis is one finished LLM write-up of an incident, as the store keeps
// it: Result is the analysis JSON (pkg/analysis's Result: the answer, the
// guard's verdicts, the model's timings), opaque to the store. An incident
// has one analysis per evidence capture it was asked about; the newest one
// is what the page shows, and sign-off decisions name an analysis by ID.
type Analysis struct {
	// ID is the store's id for the analysis; 0 until saved.
	ID         int64 `json:"id"`
	IncidentID int64 `json:"incidentId"`
	// EvidenceAt is the capture (Evidence.CapturedAt) the write-up was
	// given; StartedAt and FinishedAt when the model was asked and
	// answered (or failed).
	EvidenceAt time.Time `json:"evidenceAt"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Model is the Ollama model that wrote it.
	Model string `json:"model"`
	// Basis names what the write-up was asked about: the top finding's
	// workload and cause ("ns/wl cause", "none" without a finding). The
	// incident is analysed again when a later capture's basis differs.
	Basis string `json:"basis"`
	// Outcome says how it ended: WriteUpDone (Result holds the answer) or
	// WriteUpFailed (Result holds the fallback and why; the deterministic
	// findings stand).
	Outcome string          `json:"outcome"`
	Result  json.RawMessage `json:"result"`
}

// Analysis outcomes (Analysis.Outcome).
const (
	WriteUpDone   = "done"
	WriteUpFailed = "failed"
)
