package eval

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// The LLM evaluation's scoring, with scripted answers from the Ollama
// contract fake (no model runs here): right, wrong, invalid JSON twice,
// uncited, and a control run answered "none".
func TestLLMScoring(t *testing.T) {
	from := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	m := evidence.Metric{Kind: evidence.KindRestarts, Namespace: "shop", Workload: "cart", Container: "app",
		Summary: evidence.Summary{Window: 3, Last: 5, Max: 5, Points: 10}}
	m.ID = evidence.MetricID(m.Kind, m.Namespace, m.Workload, "", m.Container, nil)
	pack := evidence.Pack{Window: evidence.Window{From: from, To: from.Add(10 * time.Minute)},
		Subject: evidence.Workload{Namespace: "shop", Workload: "cart"}, Metrics: []evidence.Metric{m}}
	fs := []findings.Finding{{Namespace: "shop", Workload: "cart", Cause: findings.Crashloop, Score: 0.8, Explanation: "restarts", Evidence: []string{m.ID}}}
	truth := &Fault{Namespace: "shop", Workload: "cart", Cause: findings.Crashloop}

	answer := func(wl string, cause findings.Cause, ids []string) string {
		b, _ := json.Marshal(analysis.Answer{Summary: "s", Confidence: "high", Remediation: []analysis.Step{},
			RootCause: analysis.RootCause{Namespace: "shop", Workload: wl, Cause: cause, Explanation: "e", Evidence: ids}})
		return string(b)
	}
	replies := map[string]string{
		"right":   answer("cart", findings.Crashloop, []string{m.ID}),
		"wrong":   answer("cart", findings.AppMemoryOOM, []string{m.ID}),
		"invalid": `{"summary": "cart keeps`,
		"uncited": answer("cart", findings.Crashloop, nil),
		"control": answer("", findings.None, nil),
	}
	// One scenario at a time: the script is set to its reply first.
	fake := contractfake.NewOllamaFake(t, "0.17.4", nil, contractfake.OllamaModel{Name: "phi3:mini"})
	s := settings.Defaults().Ollama
	s.URL = fake.URL

	var inputs []LLMInput
	var rep LLMReport
	for _, name := range []string{"right", "wrong", "invalid", "uncited", "control"} {
		reply := replies[name]
		fake.SetScript(func(api.ChatRequest, int) contractfake.OllamaReply { return contractfake.OllamaReply{Content: reply} })
		in := LLMInput{Scenario: name, Truth: truth, Pack: pack, Findings: fs}
		if name == "control" {
			in.Truth = nil
		}
		inputs = append(inputs, in)
		r, err := AnalyzeCases(context.Background(), s, []LLMInput{in}, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		rep.Cases = append(rep.Cases, r.Cases...)
	}
	want := map[string]struct {
		correct         bool
		valid, attempts int
		unsupported     int
	}{
		"right":   {true, 1, 1, 0},
		"wrong":   {false, 1, 1, 0},
		"invalid": {false, 0, 2, 0},
		"uncited": {true, 1, 1, 1},
		"control": {true, 1, 1, 0},
	}
	for _, c := range rep.Cases {
		w := want[c.Scenario]
		if c.Correct != w.correct || c.Valid != w.valid || c.Attempts != w.attempts || c.Unsupported != w.unsupported {
			t.Errorf("%s: correct %v valid %d/%d unsupported %d, want %+v (%v)", c.Scenario, c.Correct, c.Valid, c.Attempts, c.Unsupported, w, c.Err)
		}
	}
	sum := rep.Summary()
	if sum.Cases != 5 || sum.Correct != 3 || sum.AnsweredRequests != 6 || sum.Unsupported != 1 || sum.Errors != 0 ||
		sum.ValidJSON != 4.0/6 || sum.PromptTokens == 0 || sum.OutputTokens == 0 {
		t.Errorf("summary %+v", sum)
	}
	var out strings.Builder
	rep.Model = "phi3:mini"
	rep.WriteTable(&out)
	for _, s := range []string{"JSON validity 66.7 %", "root-cause accuracy 3/5 = 60.0 %", "unsupported claims 1", "latency p50"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}

	// Ollama down: an error, no answered request.
	s.URL = "http://127.0.0.1:1"
	r, err := AnalyzeCases(context.Background(), s, inputs[:1], nil)
	if err != nil || r.Summary().Errors != 1 || r.Summary().AnsweredRequests != 0 || r.Cases[0].Correct {
		t.Errorf("down: %v %+v", err, r.Summary())
	}
}

func TestWithInjectionAndReadLLMInputs(t *testing.T) {
	files := []string{"../../analysis/testdata/packs/crashloop.json", "../../analysis/testdata/packs/healthy.json"}
	in, err := ReadLLMInputs(files)
	if err != nil || len(in) != 2 || in[0].Truth == nil || in[0].Truth.Cause != findings.Crashloop || in[1].Truth != nil {
		t.Fatalf("%v %+v", err, in)
	}
	all := WithInjection(in)
	if len(all) != 4 || !all[2].Injected || all[2].Of != 0 || all[3].Of != 1 || in[0].Pack.Logs[0].Example == Injection ||
		all[2].Pack.Logs[0].Example != Injection || !strings.HasPrefix(all[2].Pack.Logs[0].Pattern, Injection) {
		t.Fatalf("injected copies: %+v", all[2:])
	}
	dir := t.TempDir()
	bad := dir + "/bad.json"
	for _, body := range []string{`{`, `{"scenario":"x","cases":[]}`, `{"scenario":"x","cases":[{"truth":{"cause":"gremlins"}}]}`} {
		if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLLMInputs([]string{bad}); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%s: %v", body, err)
		}
	}
}
