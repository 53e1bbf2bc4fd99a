package contractfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
)

// The fake's own contract, through Ollama's Go client where it applies.

func fakeClient(t *testing.T, f *contractfake.OllamaFake) *api.Client {
	u, _ := url.Parse(f.URL)
	return api.NewClient(u, http.DefaultClient)
}

func TestOllamaFakeTruncatesSilentlyUnlessTold(t *testing.T) {
	f := contractfake.NewOllamaFake(t, "0.17.4", func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: `{"ok":true}`}
	}, contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 4096})
	c := fakeClient(t, f)
	long := strings.Repeat("x", 4*2000) // 2,000 fake tokens
	no, stream := false, false
	req := &api.ChatRequest{Model: "phi3:mini", Stream: &stream, Messages: []api.Message{{Role: "user", Content: long}},
		Options: map[string]any{"num_ctx": 1024}}
	var got api.ChatResponse
	if err := c.Chat(context.Background(), req, func(r api.ChatResponse) error { got = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if got.Message.Content != `{"ok":true}` || got.PromptEvalCount != 1024 {
		t.Errorf("truncate absent: Ollama cuts the prompt to num_ctx and says nothing: %+v", got)
	}
	req.Truncate = &no
	err := c.Chat(context.Background(), req, func(api.ChatResponse) error { return nil })
	var se api.StatusError
	if !asStatus(err, &se) || se.StatusCode != 400 || se.ErrorMessage != "the input length exceeds the context length" {
		t.Errorf("truncate false: %v", err)
	}
	// The model was loaded with num_ctx 1024 (capped at 4096 trained).
	ps, err := c.ListRunning(context.Background())
	if err != nil || len(ps.Models) != 1 || ps.Models[0].ContextLength != 1024 {
		t.Errorf("ps: %+v %v", ps, err)
	}
}

func asStatus(err error, se *api.StatusError) bool {
	s, ok := err.(api.StatusError)
	*se = s
	return ok
}

func TestOllamaFakeFormatAndNumPredict(t *testing.T) {
	f := contractfake.NewOllamaFake(t, "0.17.4", func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: strings.Repeat("y", 400)}
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	post := func(body string) (int, string) {
		resp, err := http.Post(f.URL+"/api/chat", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"model":"phi3:mini","messages":[],"format":"yaml"}`); code != 400 || !strings.Contains(body, "invalid format") {
		t.Errorf("format yaml: %d %s", code, body)
	}
	if code, body := post(`{"model":"nope","messages":[]}`); code != 404 || !strings.Contains(body, `model \"nope\" not found, try pulling it first`) {
		t.Errorf("unknown model: %d %s", code, body)
	}
	code, body := post(`{"model":"phi3:mini","messages":[],"format":{"type":"object"},"options":{"num_predict":10}}`)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	var last api.ChatResponse
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if code != 200 || len(lines) < 2 || !last.Done || last.DoneReason != "length" || last.EvalCount != 10 {
		t.Errorf("schema format, num_predict 10: %d %d lines, last %+v", code, len(lines), last)
	}
	// /api/show names the architecture and its trained context.
	show, err := fakeClient(t, f).Show(context.Background(), &api.ShowRequest{Model: "phi3:mini"})
	if err != nil || show.ModelInfo["general.architecture"] != "phi3" || show.ModelInfo["phi3.context_length"] != 4096.0 {
		t.Errorf("show: %+v %v", show, err)
	}
}
