package contractfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// OllamaModel is a model the fake has "pulled".
type OllamaModel struct {
	// Name as /api/tags lists it ("phi3:mini").
	Name string
	// Architecture (model_info "general.architecture"; default "phi3") and
	// TrainedContext (model_info "<arch>.context_length"; default 4096).
	Architecture   string
	TrainedContext int
}

// OllamaReply is one scripted answer of /api/chat.
type OllamaReply struct {
	// Content is the assistant message, streamed in chunks of ChunkBytes
	// (default 24) bytes.
	Content    string
	ChunkBytes int
	// Delay before each chunk: a slow model.
	Delay time.Duration
	// DropAfter > 0 cuts the connection once that many bytes of content
	// were sent, without the final message: a truncated stream.
	DropAfter int
	// Status and Error answer with an error instead ({"error": Error}).
	Status int
	Error  string
	// EvalCount overrides the output token count (default: the fake's
	// count of Content).
	EvalCount int
}

// OllamaScript answers one chat request; n counts the requests so far
// (1 for the first), for a retry that answers differently.
type OllamaScript func(req api.ChatRequest, n int) OllamaReply

// OllamaFake is a contract fake of Ollama's HTTP API, built on the types of
// github.com/ollama/ollama/api and the behaviour Ollama v0.17 documents
// (api/types.go, server/routes.go; ../shared/reference/integration-facts.md):
//
//   - POST /api/chat: NDJSON stream (stream absent or true) of
//     api.ChatResponse chunks, then a final one with done, done_reason and
//     Metrics; a single answer with stream false. format must be absent,
//     "json" or a JSON Schema object (400 otherwise). options.num_ctx
//     (default 4096, capped at the model's trained context) is the
//     context; a request with another num_ctx than the loaded one
//     "reloads" the model (a load_duration in the metrics, /api/ps shows
//     the new size). The prompt's tokens are counted with the fake's own
//     rule (FakeTokens: bytes/4, +4 per message; no real tokenizer here):
//     over num_ctx with truncate false it is HTTP 400 "the input length
//     exceeds the context length"; with truncate absent or true the fake,
//     like Ollama, goes on and reports prompt_eval_count = num_ctx (the
//     silent truncation MeshWatch must avoid). options.num_predict caps
//     the output (done_reason "length").
//   - POST /api/show: model_info with general.architecture and
//     <arch>.context_length; 404 for a model not pulled.
//   - GET /api/ps: the loaded models with their context_length.
//   - GET /api/version, GET /api/tags.
//   - Unknown model on /api/chat: HTTP 404 {"error":"model \"x\" not
//     found, try pulling it first"}.
//
// What it proves: that MeshWatch's client speaks Ollama's wire format
// (request fields, stream framing, error bodies, metrics) and handles
// slow, failing and truncated answers. What it does not: no model runs
// here, so nothing about the quality of a real model's answers, its real
// token counts or its speed; the answers are scripted (Script). meshwatch
// eval --ollama measures a real model.
type OllamaFake struct {
	URL string

	mu       sync.Mutex
	version  string
	models   map[string]OllamaModel
	loaded   map[string]int
	script   OllamaScript
	requests []api.ChatRequest
	raw      []map[string]any
}

// NewOllamaFake starts the fake with the models pulled; script answers the
// chats (nil: an empty JSON object "{}").
func NewOllamaFake(t Owner, version string, script OllamaScript, models ...OllamaModel) *OllamaFake {
	t.Helper()
	f := &OllamaFake{version: version, models: map[string]OllamaModel{}, loaded: map[string]int{}, script: script}
	for _, m := range models {
		if m.Architecture == "" {
			m.Architecture = "phi3"
		}
		if m.TrainedContext == 0 {
			m.TrainedContext = 4096
		}
		f.models[fakeModelKey(m.Name)] = m
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"version": version})
	})
	mux.HandleFunc("GET /api/tags", f.tags)
	mux.HandleFunc("GET /api/ps", f.ps)
	mux.HandleFunc("POST /api/show", f.show)
	mux.HandleFunc("POST /api/chat", f.chat)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// SetScript replaces the scripted answers.
func (f *OllamaFake) SetScript(s OllamaScript) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = s
}

// Requests are the chat requests received, in order.
func (f *OllamaFake) Requests() []api.ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ChatRequest(nil), f.requests...)
}

// RawRequests are the chat requests' JSON as received (a field's presence:
// "truncate": false is not the same as no truncate).
func (f *OllamaFake) RawRequests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.raw...)
}

// Load marks a model as loaded with a context length (as if an earlier
// request had loaded it).
func (f *OllamaFake) Load(model string, numCtx int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded[fakeModelKey(model)] = numCtx
}

// FakeTokens is the fake's token count of a text: one per 4 bytes, rounded
// up. A stand-in for a tokenizer, not one.
func FakeTokens(s string) int { return (len(s) + 3) / 4 }

func fakeModelKey(name string) string {
	if !strings.Contains(name, ":") {
		return name + ":latest"
	}
	return name
}

func (f *OllamaFake) model(name string) (OllamaModel, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.models[fakeModelKey(name)]
	return m, ok
}

func fakeDetails(m OllamaModel) api.ModelDetails {
	return api.ModelDetails{Format: "gguf", Family: m.Architecture, Families: []string{m.Architecture},
		ParameterSize: "3.8B", QuantizationLevel: "Q4_0"}
}

func (f *OllamaFake) tags(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	out := api.ListResponse{Models: []api.ListModelResponse{}}
	for _, m := range f.models {
		out.Models = append(out.Models, api.ListModelResponse{Name: m.Name, Model: m.Name, Size: 2176178913, Digest: "fake",
			ModifiedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Details: fakeDetails(m)})
	}
	f.mu.Unlock()
	writeJSON(w, out)
}

func (f *OllamaFake) ps(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	out := api.ProcessResponse{Models: []api.ProcessModelResponse{}}
	for key, n := range f.loaded {
		m := f.models[key]
		out.Models = append(out.Models, api.ProcessModelResponse{Name: m.Name, Model: m.Name, Size: 2176178913, Digest: "fake",
			Details: fakeDetails(m), ExpiresAt: time.Now().Add(5 * time.Minute), SizeVRAM: 0, ContextLength: n})
	}
	f.mu.Unlock()
	writeJSON(w, out)
}

func ollamaError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func notFound(name string) string {
	return fmt.Sprintf("model %q not found, try pulling it first", name)
}

func (f *OllamaFake) show(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		ollamaError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	m, ok := f.model(name)
	if !ok {
		ollamaError(w, http.StatusNotFound, notFound(name))
		return
	}
	writeJSON(w, api.ShowResponse{Details: fakeDetails(m), ModelInfo: map[string]any{
		"general.architecture":             m.Architecture,
		m.Architecture + ".context_length": m.TrainedContext,
	}})
}

func (f *OllamaFake) chat(w http.ResponseWriter, r *http.Request) {
	var raw map[string]any
	var req api.ChatRequest
	dec := json.NewDecoder(r.Body)
	var body json.RawMessage
	if err := dec.Decode(&body); err != nil {
		ollamaError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		ollamaError(w, http.StatusBadRequest, err.Error())
		return
	}
	_ = json.Unmarshal(body, &raw)
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.raw = append(f.raw, raw)
	n := len(f.requests)
	script := f.script
	f.mu.Unlock()

	m, ok := f.model(req.Model)
	if !ok {
		ollamaError(w, http.StatusNotFound, notFound(req.Model))
		return
	}
	if len(req.Format) > 0 {
		var v any
		_ = json.Unmarshal(req.Format, &v)
		if _, obj := v.(map[string]any); !obj && v != "json" {
			ollamaError(w, http.StatusBadRequest, `invalid format: expected "json" or a valid JSON schema`)
			return
		}
	}
	numCtx := intOption(req.Options, "num_ctx", 4096)
	numCtx = min(numCtx, m.TrainedContext)
	numPredict := intOption(req.Options, "num_predict", -1)
	var load time.Duration
	f.mu.Lock()
	if f.loaded[fakeModelKey(req.Model)] != numCtx {
		f.loaded[fakeModelKey(req.Model)] = numCtx // a reload
		load = 1500 * time.Millisecond
	}
	f.mu.Unlock()
	promptTokens := 0
	for _, msg := range req.Messages {
		promptTokens += FakeTokens(msg.Content) + 4
	}
	if promptTokens > numCtx {
		if req.Truncate != nil && !*req.Truncate {
			ollamaError(w, http.StatusBadRequest, "the input length exceeds the context length")
			return
		}
		promptTokens = numCtx // Ollama cuts the prompt silently
	}
	reply := OllamaReply{Content: "{}"}
	if script != nil {
		reply = script(req, n)
	}
	if reply.Status != 0 || reply.Error != "" {
		ollamaError(w, max(reply.Status, http.StatusInternalServerError), reply.Error)
		return
	}
	content, reason := reply.Content, "stop"
	if numPredict > 0 && FakeTokens(content) > numPredict {
		content, reason = content[:numPredict*4], "length"
	}
	evalCount := reply.EvalCount
	if evalCount == 0 {
		evalCount = FakeTokens(content)
	}
	final := api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Message: api.Message{Role: "assistant"},
		Done: true, DoneReason: reason, Metrics: api.Metrics{
			TotalDuration: load + time.Duration(promptTokens+evalCount)*time.Millisecond, LoadDuration: load,
			PromptEvalCount: promptTokens, PromptEvalDuration: time.Duration(promptTokens) * time.Millisecond,
			EvalCount: evalCount, EvalDuration: time.Duration(evalCount) * time.Millisecond,
		}}
	if req.Stream != nil && !*req.Stream {
		final.Message.Content = content
		writeJSON(w, final)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	size := reply.ChunkBytes
	if size <= 0 {
		size = 24
	}
	sent := 0
	for sent < len(content) {
		if reply.Delay > 0 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(reply.Delay):
			}
		}
		end := min(sent+size, len(content))
		if reply.DropAfter > 0 && end > reply.DropAfter {
			end = max(reply.DropAfter, sent)
		}
		if end > sent {
			_ = enc.Encode(api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
				Message: api.Message{Role: "assistant", Content: content[sent:end]}})
			if fl != nil {
				fl.Flush()
			}
		}
		sent = end
		if reply.DropAfter > 0 && sent >= reply.DropAfter {
			panic(http.ErrAbortHandler) // the connection drops mid-stream
		}
	}
	_ = enc.Encode(final)
}

func intOption(opts map[string]any, key string, def int) int {
	switch v := opts[key].(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return def
}
