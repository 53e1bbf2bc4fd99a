package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// --ollama's settings are checked before any scenario runs.
func TestEvalOllamaBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--ollama", "127.0.0.1:11434"}, "ollama.url"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--num-ctx", "100"}, "ollama.numCtx: 100 is out of range"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--num-predict", "9000"}, "ollama.numPredict"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--model", "phi3 mini"}, "ollama.model"},
		{[]string{"eval", "--packs", "x"}, "need --ollama"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--packs", t.TempDir()}, "no *.json"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want code 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// copyingModel is a scripted "model" that answers with the prompt's top
// finding (or none), read from the data's structure.
func copyingModel(req api.ChatRequest, _ int) contractfake.OllamaReply {
	user := req.Messages[len(req.Messages)-1].Content
	i, j := strings.Index(user, analysis.DataOpen+"\n"), strings.LastIndex(user, "\n"+analysis.DataClose)
	var d analysis.Data
	_ = json.Unmarshal([]byte(user[i+len(analysis.DataOpen)+1:j]), &d)
	a := analysis.Answer{Summary: "none found", Confidence: "low", RootCause: analysis.RootCause{Cause: findings.None}}
	if len(d.Findings) > 0 {
		f := d.Findings[0]
		a = analysis.Answer{Summary: "s", Confidence: "high", RootCause: analysis.RootCause{Namespace: f.Namespace, Workload: f.Workload,
			Cause: f.Cause, Explanation: "e", Evidence: f.Evidence}}
	}
	b, _ := json.Marshal(a)
	return contractfake.OllamaReply{Content: string(b)}
}

// The LLM evaluation end to end on the captured scenarios, with the Ollama
// contract fake as the "model" (it copies the top finding): every answer
// valid, accurate exactly where the findings are, and the injected copies
// answered alike.
func TestEvalOllamaOnCapturedPacks(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", copyingModel, contractfake.OllamaModel{Name: "phi3:mini"})
	code, stdout, stderr := runCLI("eval", "--ollama", fake.URL, "--packs", "../../../analysis/testdata/packs", "--injection")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if testing.Verbose() {
		t.Log("\n" + stdout)
	}
	cases := regexp.MustCompile(`root-cause accuracy (\d+)/(\d+)`).FindStringSubmatch(stdout)
	inj := regexp.MustCompile(`same root cause (\d+)/(\d+)`).FindStringSubmatch(stdout)
	if !strings.Contains(stdout, "JSON validity 100.0 %") || len(cases) != 3 || len(inj) != 3 || inj[1] != inj[2] || inj[1] == "0" {
		t.Fatalf("output:\n%s", stdout)
	}
	var n int
	_, _ = fmt.Sscan(cases[2], &n)
	if n < 10 || len(fake.Requests()) < 2*n-5 {
		t.Errorf("%d cases, %d requests:\n%s", n, len(fake.Requests()), stdout)
	}
}
