package health

// The report as the browser receives it (CheckHealth's JSON details). This
// file is an input of the TypeScript wire types: src/api/wire/health.ts is
// generated from it (mage generate); keep only wire types here.

import (
	"fmt"
	"strings"
)

// Status of one dependency or of the whole report.
type Status string

// Statuses, from best to worst. The Status prefix gives the generated
// TypeScript a union type Status; Go code writes the short names OK,
// Disabled, Warning and Error (health.go).
const (
	StatusOK       Status = "ok"
	StatusDisabled Status = "disabled"
	StatusWarning  Status = "warning"
	StatusError    Status = "error"
)

func (s Status) rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Disabled:
		return 1
	}
	return 0
}

// Result is one line of the report.
type Result struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Required bool   `json:"required"`
	Status   Status `json:"status"`
	Version  string `json:"version,omitempty"`
	// Probed is false for lines that report without calling the dependency
	// (invalid settings, disabled features); they carry no latency.
	Probed    bool   `json:"probed"`
	LatencyMS int64  `json:"latencyMs"`
	Message   string `json:"message"`
}

// Line renders r as one human-readable line.
func (r Result) Line() string {
	mark := map[Status]string{OK: "OK  ", Warning: "WARN", Error: "FAIL", Disabled: "OFF "}[r.Status]
	s := fmt.Sprintf("%s %s", mark, r.Name)
	if r.Version != "" {
		s += " " + r.Version
	}
	if r.Probed {
		s += fmt.Sprintf(" (%d ms)", r.LatencyMS)
	}
	return s + ": " + r.Message
}

// Report is every dependency's result plus the overall status.
type Report struct {
	Status  Status   `json:"status"`
	Summary string   `json:"summary"`
	Results []Result `json:"results"`
}

// Text renders the summary and one line per dependency.
func (r Report) Text() string {
	lines := []string{r.Summary}
	for _, res := range r.Results {
		lines = append(lines, res.Line())
	}
	return strings.Join(lines, "\n")
}
