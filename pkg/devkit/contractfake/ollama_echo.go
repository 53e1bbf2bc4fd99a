package contractfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// FindingsEcho is a scripted "model" for the Ollama fake that answers every
// analysis request from the request itself: it reads the fenced evidence
// JSON of the last user message (between open and close, as
// pkg/analysis's prompt fences it) and writes the answer schema's JSON
// naming the top finding's workload and cause, citing that finding's
// evidence ids, with remediation steps: a kubectl read and, for causes a
// restart helps, a rollout restart of the workload (both citing the
// finding's evidence), and one step that cites nothing, so the page shows
// how an unsupported claim is marked. Without a finding it answers
// "insufficient evidence". It streams in small chunks with delay between
// them, so the page shows the write-up arriving.
//
// It is no model: it proves that the pipeline (prompt, stream, schema,
// guard, storage, page) carries an answer end to end, not that any answer
// is right. The preview stack uses it; meshwatch eval --ollama measures a
// real model.
func FindingsEcho(open, close string, delay time.Duration) OllamaScript {
	return func(req api.ChatRequest, _ int) OllamaReply {
		var user string
		for _, m := range req.Messages {
			if m.Role == "user" {
				user = m.Content
			}
		}
		return OllamaReply{Content: echoAnswer(user, open, close), ChunkBytes: 24, Delay: delay}
	}
}

func echoAnswer(user, open, close string) string {
	type finding struct {
		Namespace   string   `json:"namespace"`
		Workload    string   `json:"workload"`
		Cause       string   `json:"cause"`
		Explanation string   `json:"explanation"`
		Evidence    []string `json:"evidence"`
	}
	var data struct {
		Findings []finding `json:"findings"`
	}
	if i := strings.Index(user, open); i >= 0 {
		rest := user[i+len(open):]
		if j := strings.Index(rest, close); j >= 0 {
			_ = json.Unmarshal([]byte(rest[:j]), &data)
		}
	}
	type step struct {
		Action   string   `json:"action"`
		Why      string   `json:"why"`
		Command  string   `json:"command,omitempty"`
		Evidence []string `json:"evidence"`
		Risk     string   `json:"risk"`
	}
	type answer struct {
		Summary   string `json:"summary"`
		RootCause struct {
			Namespace   string   `json:"namespace"`
			Workload    string   `json:"workload"`
			Cause       string   `json:"cause"`
			Explanation string   `json:"explanation"`
			Evidence    []string `json:"evidence"`
		} `json:"rootCause"`
		Confidence  string `json:"confidence"`
		Remediation []step `json:"remediation"`
	}
	a := answer{Confidence: "low", Remediation: []step{}}
	var top *finding
	for i := range data.Findings {
		if data.Findings[i].Cause != "" && data.Findings[i].Cause != "none" {
			top = &data.Findings[i]
			break
		}
	}
	if top == nil {
		a.Summary = "The evidence shows no clear fault: no detector found one, and the metrics stay near their baselines."
		a.RootCause.Cause = "none"
		a.RootCause.Evidence = []string{}
		b, _ := json.Marshal(a)
		return string(b)
	}
	who := top.Namespace + "/" + top.Workload
	cites := top.Evidence
	if len(cites) > 3 {
		cites = cites[:3]
	}
	a.Summary = fmt.Sprintf("%s is at fault: %s. %s", who, top.Cause, top.Explanation)
	a.RootCause.Namespace, a.RootCause.Workload, a.RootCause.Cause = top.Namespace, top.Workload, top.Cause
	a.RootCause.Explanation, a.RootCause.Evidence = top.Explanation, cites
	a.Confidence = "medium"
	a.Remediation = append(a.Remediation, step{
		Action: "Look at the workload's pods and recent events", Why: "Confirm what the evidence shows before changing anything.",
		Command: fmt.Sprintf("kubectl describe deployment/%s -n %s", top.Workload, top.Namespace), Evidence: cites, Risk: "low"})
	switch top.Cause {
	case "sidecar-memory-leak", "app-memory-oom", "crashloop":
		a.Remediation = append(a.Remediation, step{
			Action: "Restart the workload's pods", Why: "A restart returns the memory the leak took, buying time for a fix.",
			Command: fmt.Sprintf("kubectl rollout restart deployment/%s -n %s", top.Workload, top.Namespace), Evidence: cites, Risk: "medium"})
	}
	a.Remediation = append(a.Remediation, step{
		Action: "Review the workload's resource limits", Why: "Limits set long ago may no longer fit the load.",
		Evidence: []string{}, Risk: "low"})
	b, _ := json.Marshal(a)
	return string(b)
}
