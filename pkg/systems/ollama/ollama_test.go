package ollama_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

func client(t *testing.T, base, model string, timeoutSeconds int) *ollama.Client {
	t.Helper()
	c, err := ollama.New(settings.LLM{Endpoint: settings.Endpoint{URL: base, TimeoutSeconds: timeoutSeconds}.WithAuth(systemtest.Secret),
		Model: model})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Moved from pkg/health with the probe; Ollama runs as its contract fake.
func TestOllamaModelPresentOrMissing(t *testing.T) {
	srv := contractfake.Ollama(t, "0.12.6", "phi3:mini", "llama3.2:latest")
	for _, tc := range []struct {
		model, status, want string
	}{
		{"phi3:mini", "ok", "model phi3:mini present; LLM address is loopback"},
		{"llama3.2", "ok", "model llama3.2 present"},
		{"qwen2.5:7b", "warning", "ollama pull qwen2.5:7b"},
	} {
		c := client(t, srv.URL, tc.model, 10)
		r := health.Run(context.Background(), []health.Check{{Name: "Ollama", Target: c.Target(), Probe: c.Probe()}}, time.Second)
		res := r.Results[0]
		if string(res.Status) != tc.status || !strings.Contains(res.Message, tc.want) || res.Version != "0.12.6" {
			t.Errorf("%s: %+v", tc.model, res)
		}
	}
}

func TestClientAgainstContractFake(t *testing.T) {
	var auth string
	fake := contractfake.Ollama(t, "0.12.6", "phi3:mini")
	// In front of the fake: what Ollama's client sends.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		proxied, err := http.NewRequestWithContext(r.Context(), r.Method, fake.URL+r.URL.Path, nil)
		if err != nil {
			t.Error(err)
			return
		}
		resp, err := http.DefaultClient.Do(proxied)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer srv.Close()
	c := client(t, srv.URL+"/", "phi3:mini", 10)
	v, err := c.Version(context.Background())
	if err != nil || v != "0.12.6" || auth != "Bearer "+systemtest.Secret {
		t.Fatalf("version %q %v (auth %q)", v, err, auth)
	}
	models, err := c.Models(context.Background())
	if err != nil || len(models) != 1 || models[0].Name != "phi3:mini" || models[0].Details.ParameterSize != "3.8B" {
		t.Fatalf("models %+v %v", models, err)
	}
	if c.Target() != srv.URL+"/" || c.Model() != "phi3:mini" {
		t.Errorf("target %q model %q", c.Target(), c.Model())
	}
	c.Close()
	c.Close()
}

func TestOllamaErrorMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"model runner crashed"}`))
	}))
	defer srv.Close()
	_, err := client(t, srv.URL, "phi3:mini", 10).Version(context.Background())
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status != 500 || err.Error() != "Ollama at "+srv.URL+"/api/version answered HTTP 500: model runner crashed" {
		t.Fatalf("got %v", err)
	}
}

func TestEgressGuard(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: external by class, and never dialled for
	// real because the egress dialer refuses before connect.
	c := client(t, "http://192.0.2.10:11434", "phi3:mini", 10)
	_, err := c.Probe()(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "egress blocked: 192.0.2.10:11434 is an external address") {
		t.Fatalf("want the egress guard's refusal, got %v", err)
	}
	var blocked *egress.BlockedError
	if _, err := c.Version(context.Background()); !errors.As(err, &blocked) {
		t.Fatalf("Version: want a *egress.BlockedError inside, got %v", err)
	}
	r := health.Run(context.Background(), []health.Check{{Name: "Ollama", Target: c.Target(), Fix: "ollama.url / ollama.model",
		Probe: c.Probe()}}, time.Second)
	if res := r.Results[0]; res.Status != health.Warning || !strings.Contains(res.Message, "unless an admin sets allowExternal") {
		t.Errorf("health line: %+v", res)
	}
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Ollama", "ollama.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, "phi3:mini", timeoutSeconds).Probe()
	})
}

func TestSameModel(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"phi3", "phi3:latest", true}, {"phi3:mini", "phi3:mini", true}, {"phi3:mini", "phi3", false}, {"", "", false}} {
		if got := ollama.SameModel(tc.a, tc.b); got != tc.want {
			t.Errorf("SameModel(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// ollama.disabled builds no client, and the pages' reason says the LLM is
// switched off rather than unreachable; another build error keeps its own
// words.
func TestDisabledBuildsNoClient(t *testing.T) {
	c, err := ollama.New(settings.LLM{Endpoint: settings.Endpoint{URL: "http://127.0.0.1:11434"}, Model: "phi3:mini", Disabled: true})
	if c != nil || !errors.Is(err, ollama.ErrDisabled) {
		t.Fatalf("New with Disabled: %v, %v", c, err)
	}
	if got := ollama.Unavailable("writes root-cause analyses", err); !strings.HasPrefix(got, "No LLM is configured (ollama.disabled is set)") {
		t.Errorf("Unavailable(ErrDisabled) = %q", got)
	}
	other := errors.New("ollama.url: not a URL")
	if got := ollama.Unavailable("explains panels", other); got != "no LLM explains panels: ollama.url: not a URL" {
		t.Errorf("Unavailable(other) = %q", got)
	}
}
