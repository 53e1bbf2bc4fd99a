package analyses

// The "analysis" frame MeshWatch streams on analysis/<incident id>, and the
// JSON the analysis route answers with. This file is an input of the
// TypeScript wire types (src/api/wire/analyses.ts, mage generate).

import (
	"encoding/json"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// RouteAnalysis is the write-up's resource route; StreamPrefix the prefix
// of its Live channels (plugin/meshwatch-mesh-app/analysis/<incident id>).
const (
	RouteAnalysis = "/incidents/{id}/analysis"
	StreamPrefix  = "analysis"
)

// Write-up states, as Response.State and the frame's state field say them.
const (
	// StateNone: no write-up yet (none asked, or the incident has no
	// evidence capture yet).
	StateNone = "none"
	// StateQueued: waiting for the model behind Position others.
	StateQueued = "queued"
	// StateWriting: the model is writing; Text is what it wrote so far.
	StateWriting = "writing"
	// StateDone: Analysis holds the finished write-up (incident.WriteUpDone).
	StateDone = "done"
	// StateFailed (incident.WriteUpFailed): Analysis holds why there is no write-up (the
	// deterministic findings stand).
	StateFailed = "failed"
	// StateUnavailable: no LLM is configured; Unavailable says why.
	StateUnavailable = "unavailable"
)

// Response is an incident's write-up as the page reads it.
type Response struct {
	IncidentID int64  `json:"incidentId"`
	State      string `json:"state"`
	// Position is the place in the model's queue while queued (1: next).
	Position int `json:"position,omitempty"`
	// Text is the model's output so far while writing; Summary the
	// summary read out of it (analysis.PreviewSummary).
	Text    string `json:"text,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Analysis is the newest stored write-up (also while a new one runs).
	Analysis *incident.Analysis `json:"analysis,omitempty"`
	// Unavailable says why no LLM writes analyses ("" when one does).
	Unavailable string `json:"unavailable,omitempty"`
}

// Frame field names and the frame's name.
const (
	FrameName     = "analysis"
	FieldResponse = "response"
	FieldUpdated  = "updatedAt"
)

// Frame is the write-up's state as a one-row frame: the Response as JSON,
// and when it was sent.
func Frame(r Response) *data.Frame {
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(`{}`)
	}
	return data.NewFrame(FrameName,
		data.NewField(FieldResponse, nil, []json.RawMessage{b}),
		data.NewField(FieldUpdated, nil, []time.Time{time.Now().UTC()}))
}
