package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

func client(t *testing.T, name, url string) *upstream.Client {
	t.Helper()
	c, err := upstream.New(upstream.Config{Name: name, BaseURL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOllamaModelPresentOrMissing(t *testing.T) {
	srv := contractfake.Ollama(t, "0.12.6", "phi3:mini", "llama3.2:latest")
	c := client(t, "Ollama", srv.URL)
	for _, tc := range []struct {
		model, status, want string
	}{
		{"phi3:mini", "ok", "model phi3:mini present; LLM address is loopback"},
		{"llama3.2", "ok", "model llama3.2 present"},
		{"qwen2.5:7b", "warning", "ollama pull qwen2.5:7b"},
	} {
		r := Run(context.Background(), []Check{{Name: "Ollama", Target: srv.URL, Probe: OllamaProbe(c, tc.model, false)}}, time.Second)
		res := r.Results[0]
		if string(res.Status) != tc.status || !strings.Contains(res.Message, tc.want) || res.Version != "0.12.6" {
			t.Errorf("%s: %+v", tc.model, res)
		}
	}
}

func TestOverallStatusRequiredVersusOptional(t *testing.T) {
	ok := func(context.Context) (Outcome, error) { return Outcome{Version: "1"}, nil }
	bad := func(context.Context) (Outcome, error) { return Outcome{}, errors.New("boom") }
	cases := []struct {
		checks []Check
		want   Status
		text   string
	}{
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "B", Probe: ok}}, OK, "ready: 2 dependencies"},
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "B", Probe: bad}}, Warning, "reduced features: 1 optional dependency"},
		{[]Check{{Name: "A", Required: true, Probe: bad}, {Name: "B", Probe: bad}}, Error, "cannot work: 1 required dependency is failing"},
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "K", Probe: DisabledProbe("off")}}, OK, "(1 disabled)"},
	}
	for _, c := range cases {
		r := Run(context.Background(), c.checks, time.Second)
		if r.Status != c.want || !strings.Contains(r.Summary, c.text) {
			t.Errorf("got %s %q, want %s containing %q", r.Status, r.Summary, c.want, c.text)
		}
		if lines := strings.Split(r.Text(), "\n"); len(lines) != len(c.checks)+1 {
			t.Errorf("want one line per dependency plus the summary:\n%s", r.Text())
		}
	}
}

func TestFailureMessagesTellWhatToFix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/api/status/buildinfo":
			w.WriteHeader(http.StatusForbidden)
		case "/slow/api/status/buildinfo":
			time.Sleep(500 * time.Millisecond)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct{ path, want string }{
		{"/auth", "refused the credentials (HTTP 403)"},
		{"/slow", "no answer from"},
		{"/wrong", "does not point at the Tempo API root"},
	} {
		c := client(t, "Tempo", srv.URL+tc.path)
		r := Run(context.Background(), []Check{{Name: "Tempo", Target: c.BaseURL(), Fix: "tempo.url", Probe: TempoProbe(c)}}, 200*time.Millisecond)
		msg := r.Results[0].Message
		if r.Results[0].Status != Warning || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "Check tempo.url") {
			t.Errorf("%s: %s %q", tc.path, r.Results[0].Status, msg)
		}
	}
}

func TestStorageProbe(t *testing.T) {
	dir := t.TempDir()
	if _, err := StorageProbe(dir + "/a/b/mw.db")(context.Background()); err != nil {
		t.Fatalf("creatable directory: %v", err)
	}
	if _, err := StorageProbe("/proc/meshwatch/mw.db")(context.Background()); err == nil {
		t.Fatal("an unwritable path must fail")
	}
}
