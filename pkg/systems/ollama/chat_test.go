package ollama_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// These run against the contract fake of Ollama's API: they prove the
// client speaks its wire format and classifies its failures, not anything
// about a real model.

func chatRequest(model string, content string) *api.ChatRequest {
	f, t := false, true
	return &api.ChatRequest{Model: model, Stream: &t, Truncate: &f,
		Messages: []api.Message{{Role: "user", Content: content}}, Options: map[string]any{"num_ctx": 2048, "num_predict": 256}}
}

func TestChatStreamsChunksThenMetrics(t *testing.T) {
	answer := `{"summary":"the proxy leaks","rootCause":{}}`
	fake := contractfake.NewOllamaFake(t, "0.17.4", func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: answer, ChunkBytes: 7}
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	c := client(t, fake.URL, "phi3:mini", 10)
	var chunks []string
	out, err := c.Chat(context.Background(), chatRequest("phi3:mini", "hello"), func(s string) { chunks = append(chunks, s) })
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != answer || strings.Join(chunks, "") != answer || len(chunks) != (len(answer)+6)/7 || out.Chunks != len(chunks) {
		t.Fatalf("content %q from %d chunks %q", out.Content, len(chunks), chunks)
	}
	m := out.Final.Metrics
	if !out.Final.Done || out.Final.DoneReason != "stop" || m.PromptEvalCount == 0 || m.EvalCount == 0 || m.LoadDuration == 0 || m.TotalDuration == 0 {
		t.Fatalf("final %+v", out.Final)
	}
	raw := fake.RawRequests()[0]
	if raw["truncate"] != false || raw["stream"] != true {
		t.Errorf("request as sent: %v", raw)
	}
}

func TestChatErrorsSayWhatToDo(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", nil, contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 4096})
	for _, tc := range []struct {
		name    string
		model   string
		content string
		reply   contractfake.OllamaReply
		timeout int
		kind    ollama.ErrorKind
		want    string
	}{
		{"not pulled", "qwen2.5:7b", "hi", contractfake.OllamaReply{}, 10, ollama.ErrModelMissing, "run `ollama pull qwen2.5:7b`"},
		{"context exceeded", "phi3:mini", strings.Repeat("x", 4*3000), contractfake.OllamaReply{}, 10, ollama.ErrContextTooSmall, "raise ollama.numCtx"},
		{"truncated stream", "phi3:mini", "hi", contractfake.OllamaReply{Content: `{"summary":"cut here and never finished"}`, DropAfter: 12}, 10,
			ollama.ErrTruncated, "ended before it was complete"},
		{"slow", "phi3:mini", "hi", contractfake.OllamaReply{Content: strings.Repeat("a", 200), ChunkBytes: 10, Delay: 150 * time.Millisecond}, 1,
			ollama.ErrTimeout, "raise ollama.timeoutSeconds"},
		{"server error", "phi3:mini", "hi", contractfake.OllamaReply{Status: 500, Error: "llama runner process has terminated"}, 10,
			ollama.ErrOther, "llama runner process has terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := tc.reply
			fake.SetScript(func(api.ChatRequest, int) contractfake.OllamaReply { return reply })
			c := client(t, fake.URL, tc.model, tc.timeout)
			var got string
			_, err := c.Chat(context.Background(), chatRequest(tc.model, tc.content), func(s string) { got += s })
			var oe *ollama.Error
			if !errors.As(err, &oe) || oe.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %T %v, want %s saying %q", err, err, tc.kind, tc.want)
			}
			if tc.kind == ollama.ErrTruncated && got != reply.Content[:12] {
				t.Errorf("streamed before the drop: %q", got)
			}
		})
	}
}

func TestChatOllamaDownAndBlocked(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", nil, contractfake.OllamaModel{Name: "phi3:mini"})
	up := client(t, fake.URL, "phi3:mini", 5)
	// Port 1 on loopback: nothing listens there, the connection is refused.
	closed := client(t, "http://127.0.0.1:1", "phi3:mini", 5)
	_, err := closed.Chat(context.Background(), chatRequest("phi3:mini", "hi"), nil)
	var oe *ollama.Error
	if !errors.As(err, &oe) || oe.Kind != ollama.ErrDown || !strings.Contains(err.Error(), "check that `ollama serve` runs there") {
		t.Fatalf("down: %v", err)
	}
	if _, err := up.Chat(context.Background(), chatRequest("phi3:mini", "hi"), nil); err != nil {
		t.Fatalf("up: %v", err)
	}
	blocked := client(t, "http://192.0.2.10:11434", "phi3:mini", 5)
	_, err = blocked.Chat(context.Background(), chatRequest("phi3:mini", "hi"), nil)
	var be *egress.BlockedError
	if !errors.As(err, &oe) || oe.Kind != ollama.ErrBlocked || !errors.As(err, &be) || !strings.Contains(err.Error(), "allowExternal") {
		t.Fatalf("blocked: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := up.Chat(ctx, chatRequest("phi3:mini", "hi"), nil); !errors.As(err, &oe) || oe.Kind != ollama.ErrCanceled {
		t.Fatalf("canceled: %v", err)
	}
}

func TestModelInfoTrainedAndAllocated(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", nil, contractfake.OllamaModel{Name: "llama3.2:3b", Architecture: "llama", TrainedContext: 131072})
	c := client(t, fake.URL, "llama3.2:3b", 10)
	info, err := c.ModelInfo(context.Background(), "llama3.2:3b")
	if err != nil || info.Architecture != "llama" || info.TrainedContext != 131072 || info.Loaded {
		t.Fatalf("before a chat: %+v %v", info, err)
	}
	if _, err := c.Chat(context.Background(), chatRequest("llama3.2:3b", "hi"), nil); err != nil {
		t.Fatal(err)
	}
	info, err = c.ModelInfo(context.Background(), "llama3.2:3b")
	if err != nil || !info.Loaded || info.Allocated != 2048 {
		t.Fatalf("after a chat with num_ctx 2048: %+v %v", info, err)
	}
	_, err = c.ModelInfo(context.Background(), "phi3:mini")
	var oe *ollama.Error
	if !errors.As(err, &oe) || oe.Kind != ollama.ErrModelMissing {
		t.Fatalf("missing model: %v", err)
	}
}

func TestProbeChecksNumCtxAgainstTheTrainedContext(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", nil, contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 4096})
	for _, tc := range []struct {
		numCtx int
		status health.Status
		want   string
	}{
		{4096, health.OK, "model phi3:mini present; LLM address is loopback; numCtx 4096 of 4096 trained"},
		{8192, health.Warning, "ollama.numCtx 8192 exceeds its trained context of 4096 tokens: set ollama.numCtx to 4096 or less"},
	} {
		c, err := ollama.New(settings.LLM{Endpoint: settings.Endpoint{URL: fake.URL, TimeoutSeconds: 5}, Model: "phi3:mini", NumCtx: tc.numCtx})
		if err != nil {
			t.Fatal(err)
		}
		r := health.Run(context.Background(), []health.Check{{Name: "Ollama", Target: c.Target(), Probe: c.Probe()}}, time.Second)
		if res := r.Results[0]; res.Status != tc.status || !strings.Contains(res.Message, tc.want) {
			t.Errorf("numCtx %d: %+v", tc.numCtx, res)
		}
		c.Close()
	}
}
