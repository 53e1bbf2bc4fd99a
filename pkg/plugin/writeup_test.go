package plugin

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/analyses"
	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// capturedCase reads one incident's stored pack and findings, as captured
// from a real run of the scenario (pkg/analysis/testdata/packs).
func capturedCase(t *testing.T, scenario string) incident.Evidence {
	t.Helper()
	raw, err := os.ReadFile("../analysis/testdata/packs/" + scenario + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sc struct {
		Cases []struct {
			Pack     json.RawMessage `json:"pack"`
			Findings json.RawMessage `json:"findings"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil || len(sc.Cases) == 0 {
		t.Fatalf("%s: %v", scenario, err)
	}
	return incident.Evidence{CapturedAt: time.Now(), Pack: sc.Cases[0].Pack, Findings: sc.Cases[0].Findings}
}

func llmSettings(url string) settings.LLM {
	s := settings.Defaults().Ollama
	s.URL, s.TimeoutSeconds = url, 30
	return s
}

// The write-up stage over Ollama's wire format (the contract fake answering
// from the prompt's findings): the queue place and the text arrive as
// progress, the stored result is the answer with the guard's verdicts —
// the root cause supported by the finding's evidence, the restart on the
// allowlist, the step that cites nothing marked unsupported.
func TestWriteUpThroughOllamasWireFormat(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", contractfake.FindingsEcho(analysis.DataOpen, analysis.DataClose, 0),
		contractfake.OllamaModel{Name: "phi3:mini"})
	an, err := analysis.New(llmSettings(fake.URL), analysis.NewQueue(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	ev := capturedCase(t, "sidecar-memory-leak")
	var mu sync.Mutex
	var texts []string
	var positions []int
	out := writeUp(context.Background(), an, analyses.Job{Incident: incident.Incident{ID: 4}, Evidence: ev}, func(p analyses.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Text != "" {
			texts = append(texts, p.Text)
		} else {
			positions = append(positions, p.Position)
		}
	})
	if out.Failed || out.Model != "phi3:mini" {
		t.Fatalf("outcome: failed=%v model=%q %s", out.Failed, out.Model, out.Result)
	}
	if len(texts) < 2 || !strings.HasPrefix(texts[len(texts)-1], texts[0]) {
		t.Errorf("the text did not arrive in growing pieces: %d pieces", len(texts))
	}
	if len(positions) == 0 || positions[0] != 0 {
		t.Errorf("queue positions %v, want the run's own turn (0) first", positions)
	}
	var res analysis.Result
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != analysis.StatusDone || res.Answer == nil || res.Guard == nil {
		t.Fatalf("result: %+v", res)
	}
	if res.Answer.RootCause.Cause != "sidecar-memory-leak" || !res.Guard.RootCause.Supported {
		t.Errorf("root cause %+v, verdict %+v", res.Answer.RootCause, res.Guard.RootCause)
	}
	steps := res.Guard.Steps
	if len(steps) != 3 || !steps[1].Runnable || steps[2].Supported || res.Guard.Unsupported != 1 {
		t.Errorf("steps %+v, unsupported %d", steps, res.Guard.Unsupported)
	}
	if res.Tokens.Estimate == 0 || res.Tokens.Prompt == 0 {
		t.Errorf("tokens %+v: the estimate and Ollama's count are both recorded", res.Tokens)
	}

	// The sign-off stage: the root cause and each step go up for review;
	// only the restart the guard judged runnable carries an action.
	sg := Suggestions(incident.Analysis{ID: 9, IncidentID: 4, Outcome: incident.WriteUpDone, Result: out.Result})
	if len(sg) != 4 || sg[0].Step != 0 || sg[0].Analysis != "9" || !strings.Contains(sg[0].Text, "sidecar-memory-leak") {
		t.Fatalf("suggestions %+v", sg)
	}
	for i, s := range sg {
		if s.Incident != 4 || s.Step != i {
			t.Errorf("suggestion %d: %+v", i, s)
		}
	}
	if sg[1].Action != nil || sg[3].Action != nil || sg[2].Action == nil || sg[2].Action.Kind != actions.Restart ||
		sg[2].Action.Name == "" || sg[2].Command == "" {
		t.Errorf("actions: read %+v, restart %+v, advice %+v", sg[1].Action, sg[2].Action, sg[3].Action)
	}
	if Suggestions(incident.Analysis{ID: 9, IncidentID: 4, Result: []byte(`{"status":"fallback"}`)}) != nil {
		t.Error("a fallback was put up for sign-off")
	}
}

// Ollama down: the outcome is a failure that says so, and the findings
// stand; the stage never hangs.
func TestWriteUpWithOllamaDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	an, err := analysis.New(llmSettings(url), analysis.NewQueue(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	out := writeUp(context.Background(), an, analyses.Job{Incident: incident.Incident{ID: 4}, Evidence: capturedCase(t, "crashloop")},
		func(analyses.Progress) {})
	var res analysis.Result
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatal(err)
	}
	if !out.Failed || res.Status != analysis.StatusFallback || res.Error == nil || !strings.Contains(res.Error.Message+res.Fallback, "Ollama") {
		t.Errorf("outcome failed=%v: %+v", out.Failed, res)
	}
	// A stored pack that does not read is a failure that says so.
	out = writeUp(context.Background(), an, analyses.Job{Incident: incident.Incident{ID: 4},
		Evidence: incident.Evidence{Pack: []byte(`[1]`), Findings: []byte(`[]`)}}, func(analyses.Progress) {})
	if !out.Failed || !strings.Contains(string(out.Result), "pack") {
		t.Errorf("unreadable pack: failed=%v %s", out.Failed, out.Result)
	}
}
