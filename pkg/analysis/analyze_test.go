package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// The analyses here run against the contract fake of Ollama (scripted
// answers): they prove the request, the streaming, the retry, the guard
// and the errors, not a real model's answers (meshwatch eval --ollama).

func TestRunStreamsTheAnswerAndGuardsIt(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", structuralModel, contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 4096})
	s := llmSettings(fake.URL)
	a := newAnalyzer(t, s, nil)
	p, fs := samplePack()
	var chunks []string
	var positions []int
	res, err := a.Run(context.Background(), Input{ID: "7", Pack: p, Findings: fs}, Events{
		Queued: func(n int) { positions = append(positions, n) },
		Chunk:  func(s string) { chunks = append(chunks, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusDone || res.Answer == nil || res.Answer.RootCause.Cause != findings.SidecarMemoryLeak ||
		res.Answer.RootCause.Workload != "checkout" {
		t.Fatalf("result %+v", res)
	}
	if len(chunks) < 3 {
		t.Errorf("the answer came in %d chunks, want it streamed", len(chunks))
	}
	if len(positions) != 1 || positions[0] != 0 {
		t.Errorf("queue positions %v", positions)
	}
	g := res.Guard
	if g == nil || !g.RootCause.Supported || g.Unsupported != 0 || len(g.Steps) != 1 || !g.Steps[0].Runnable {
		t.Errorf("guard %+v", g)
	}
	if res.Tokens.Estimate == 0 || res.Tokens.Prompt == 0 || res.Tokens.Output == 0 || res.Tokens.Budget != 4096-768-RetryReserve ||
		res.Timings.LoadMs == 0 || res.Attempts != 1 || res.DoneReason != "stop" || res.Context == nil || res.Context.TrainedContext != 4096 {
		t.Errorf("counts %+v timings %+v context %+v", res.Tokens, res.Timings, res.Context)
	}
	// The request as Ollama receives it.
	raw := fake.RawRequests()[0]
	opts, _ := raw["options"].(map[string]any)
	format, _ := raw["format"].(map[string]any)
	if raw["stream"] != true || raw["truncate"] != false || raw["shift"] != false || raw["keep_alive"] != "30m0s" ||
		opts["temperature"] != 0.0 || opts["num_ctx"] != 4096.0 || opts["num_predict"] != 768.0 || format["type"] != "object" {
		t.Errorf("request %v", raw)
	}
	msgs := fake.Requests()[0].Messages
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[0].Content != SystemPrompt || !strings.HasPrefix(msgs[1].Content, DataOpen) {
		t.Errorf("messages %+v", msgs)
	}
	// The result round-trips as the incident stores it.
	b, _ := json.Marshal(res)
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Answer.RootCause.Cause != res.Answer.RootCause.Cause || back.Tokens != res.Tokens {
		t.Errorf("stored result: %v %s", err, b)
	}
}

func TestInvalidJSONGetsOneRetry(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", func(req api.ChatRequest, n int) contractfake.OllamaReply {
		if n == 1 {
			return contractfake.OllamaReply{Content: `{"summary": "the proxy`}
		}
		return structuralModel(req, n)
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	a := newAnalyzer(t, llmSettings(fake.URL), nil)
	p, fs := samplePack()
	var attempts []int
	res, err := a.Run(context.Background(), Input{Pack: p, Findings: fs}, Events{Attempt: func(n int) { attempts = append(attempts, n) }})
	if err != nil || res.Status != StatusDone || res.Attempts != 2 || len(attempts) != 2 || res.Invalid != "" {
		t.Fatalf("retry: %v %+v %v", err, res, attempts)
	}
	// The retry says what was wrong (the same request at temperature 0
	// would get the same answer); the data is the same.
	reqs := fake.Requests()
	first, second := reqs[0].Messages[1].Content, reqs[1].Messages[1].Content
	if !strings.HasPrefix(second, first+"\nYour previous answer was not usable (not valid JSON: unexpected EOF)") ||
		reqs[1].Messages[0].Content != SystemPrompt || string(reqs[1].Format) != string(reqs[0].Format) {
		t.Errorf("retry request: %q", strings.TrimPrefix(second, first))
	}

	fake.SetScript(func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: `{"summary":"x","rootCause":{"cause":"cosmic-rays"},"confidence":"high","remediation":[]}`}
	})
	before := len(fake.Requests())
	res, err = a.Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
	var ie *InvalidAnswerError
	if !errors.As(err, &ie) || res.Status != StatusFallback || res.Error.Kind != KindInvalidAnswer || len(fake.Requests())-before != 2 ||
		!strings.Contains(res.InvalidReason, `"cosmic-rays" is not in the vocabulary`) || !strings.Contains(res.Fallback, "deterministic findings stand") ||
		res.Invalid == "" || res.Answer != nil {
		t.Fatalf("fallback: %v %+v", err, res)
	}
}

func TestAnswerCutByNumPredictSaysSo(t *testing.T) {
	long := `{"summary":"` + strings.Repeat("very long ", 200) + `"}`
	fake := contractfake.NewOllamaFake(t, "0.17.4", func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: long}
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	s := llmSettings(fake.URL)
	s.NumPredict = 64
	p, fs := samplePack()
	res, err := newAnalyzer(t, s, nil).Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
	if err == nil || res.DoneReason != "length" || !strings.Contains(res.InvalidReason, "reached num_predict (64 tokens)") {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestFailuresFallBackWithWhatToDo(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", structuralModel, contractfake.OllamaModel{Name: "phi3:mini"})
	p, fs := samplePack()
	for _, tc := range []struct {
		name, url, model string
		kind             ollama.ErrorKind
		want             string
	}{
		{"not pulled", fake.URL, "llama3.2:3b", ollama.ErrModelMissing, "ollama pull llama3.2:3b"},
		{"down", "http://127.0.0.1:1", "phi3:mini", ollama.ErrDown, "unreachable"},
		{"egress", "http://192.0.2.10:11434", "phi3:mini", ollama.ErrBlocked, "allowExternal"},
	} {
		s := llmSettings(tc.url)
		s.Model = tc.model
		res, err := newAnalyzer(t, s, nil).Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
		var oe *ollama.Error
		if !errors.As(err, &oe) || oe.Kind != tc.kind || res.Status != StatusFallback || res.Error == nil ||
			res.Error.Kind != string(tc.kind) || !strings.Contains(res.Error.Message, tc.want) || !strings.Contains(res.Fallback, tc.want) {
			t.Errorf("%s: %v %+v", tc.name, err, res)
		}
	}
}

func TestContextBudget(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", structuralModel, contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 2048})
	p, fs := samplePack()

	// num_ctx over the trained maximum: warned, and the request asks for
	// what the model has.
	s := llmSettings(fake.URL)
	s.NumCtx = 8192
	res, err := newAnalyzer(t, s, nil).Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
	if err != nil || res.NumCtx != 2048 || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "exceeds phi3:mini's trained context of 2048") {
		t.Fatalf("over trained: %v %+v", err, res)
	}
	if got := fake.Requests()[len(fake.Requests())-1].Options["num_ctx"]; got != 2048.0 {
		t.Errorf("num_ctx sent %v", got)
	}

	// Too small for even the smallest prompt: refused before sending.
	s = llmSettings(fake.URL)
	s.NumCtx, s.NumPredict = 700, 400
	before := len(fake.Requests())
	res, err = newAnalyzer(t, s, nil).Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
	var be *BudgetError
	if !errors.As(err, &be) || res.Error.Kind != KindBudget || len(res.Shrunk) == 0 || len(fake.Requests()) != before ||
		!strings.Contains(err.Error(), "raise ollama.numCtx to at least") {
		t.Fatalf("refused: %v %+v", err, res)
	}
}

func TestFitShrinksInOrderAndRecordsIt(t *testing.T) {
	p, fs := samplePack()
	full := BuildPrompt(p, fs)
	pr, steps, err := Fit(p, fs, full.Estimate)
	if err != nil || len(steps) != 0 || pr.User != full.User {
		t.Fatalf("a prompt that fits is unchanged: %v %v", steps, err)
	}
	pr, steps, err = Fit(p, fs, full.Estimate-1)
	if err != nil || len(steps) != 1 || steps[0].Step != StepTraces || steps[0].Dropped[0] != p.Traces[0].ID || pr.Estimate >= full.Estimate {
		t.Fatalf("one step: %+v %v", steps, err)
	}
	if strings.Contains(pr.User, p.Traces[0].ID) || !strings.Contains(pr.User, `"dropped":{"traces":1}`) {
		t.Errorf("the prompt says what is missing: %s", pr.User)
	}
	_, steps, err = Fit(p, fs, 10)
	var be *BudgetError
	if !errors.As(err, &be) || len(steps) < 3 || steps[0].Step != StepTraces || steps[1].Step != StepExamples {
		t.Fatalf("refusal: %+v %v", steps, err)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].Tokens > steps[i-1].Tokens {
			t.Errorf("step %s grew the prompt: %+v", steps[i].Step, steps)
		}
	}
}

func TestInputFromJSON(t *testing.T) {
	p, fs := samplePack()
	pj, _ := json.Marshal(p)
	fj, _ := json.Marshal(fs)
	in, err := InputFromJSON("7", pj, fj)
	if err != nil || in.Pack.Subject != p.Subject || len(in.Findings) != 1 || in.Findings[0].Cause != findings.SidecarMemoryLeak {
		t.Fatalf("%v %+v", err, in)
	}
	if _, err := InputFromJSON("7", []byte("{"), nil); err == nil || !strings.Contains(err.Error(), "stored evidence pack") {
		t.Errorf("bad pack: %v", err)
	}
	if in, err := InputFromJSON("7", pj, []byte("null")); err != nil || in.Findings != nil {
		t.Errorf("no findings: %v", err)
	}
}

func TestRunWaitsItsTurnAndCanBeCanceled(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", structuralModel, contractfake.OllamaModel{Name: "phi3:mini"})
	q := NewQueue(nil)
	a := newAnalyzer(t, llmSettings(fake.URL), q)
	p, fs := samplePack()
	release := make(chan struct{})
	busy := make(chan struct{})
	go func() {
		_ = q.Do(context.Background(), "phi3:mini", "other", nil, func(context.Context) error { close(busy); <-release; return nil })
	}()
	<-busy
	ctx, cancel := context.WithCancel(context.Background())
	var positions []int
	done := make(chan Result)
	go func() {
		res, _ := a.Run(ctx, Input{ID: "7", Pack: p, Findings: fs}, Events{Queued: func(n int) { positions = append(positions, n); cancel() }})
		done <- res
	}()
	res := <-done
	close(release)
	if res.Status != StatusFallback || res.Error.Kind != string(ollama.ErrCanceled) || len(positions) != 1 || positions[0] != 1 ||
		len(fake.Requests()) != 0 {
		t.Fatalf("canceled in the queue: %+v %v", res, positions)
	}
}

func TestOllamaRefusingThePromptIsContextTooSmall(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Status: 400, Error: ollama.MsgContextExceeded}
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	p, fs := samplePack()
	res, err := newAnalyzer(t, llmSettings(fake.URL), nil).Run(context.Background(), Input{Pack: p, Findings: fs}, Events{})
	if err == nil || res.Error == nil || res.Error.Kind != KindBudget || !strings.Contains(res.Error.Message, "raise ollama.numCtx") {
		t.Fatalf("%v %+v", err, res.Error)
	}
}

func TestContextWarnings(t *testing.T) {
	for _, tc := range []struct {
		info   ollama.ModelInfo
		numCtx int
		want   []string
	}{
		{ollama.ModelInfo{Model: "phi3:mini", TrainedContext: 4096}, 4096, nil},
		{ollama.ModelInfo{Model: "phi3:mini", TrainedContext: 4096, Loaded: true, Allocated: 4096}, 4096, nil},
		{ollama.ModelInfo{Model: "phi3:mini", TrainedContext: 4096}, 8192, []string{"exceeds phi3:mini's trained context of 4096"}},
		{ollama.ModelInfo{Model: "llama3.2", TrainedContext: 131072, Loaded: true, Allocated: 2048}, 8192,
			[]string{"loaded with a context of 2048 tokens; this request's num_ctx 8192 reloads it"}},
		{ollama.ModelInfo{Model: "phi3:mini", TrainedContext: 4096, Loaded: true, Allocated: 4096}, 8192, []string{"exceeds"}},
	} {
		got := ContextWarnings(tc.info, tc.numCtx)
		if len(got) != len(tc.want) {
			t.Errorf("%+v %d: %v", tc.info, tc.numCtx, got)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("%+v %d: %q, want %q", tc.info, tc.numCtx, got[i], tc.want[i])
			}
		}
	}
}
