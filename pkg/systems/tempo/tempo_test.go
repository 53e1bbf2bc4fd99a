package tempo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

func client(t *testing.T, base string, timeoutSeconds int) *tempo.Client {
	t.Helper()
	c, err := tempo.New(settings.Endpoint{URL: base, TimeoutSeconds: timeoutSeconds}.WithAuth(systemtest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Tempo cannot run here: its contract fake serves the documented answer.
func TestAgainstTempoContractFake(t *testing.T) {
	srv := contractfake.Tempo(t, "2.8.2")
	c := client(t, srv.URL, 10)
	info, err := c.Buildinfo(context.Background())
	if err != nil || info.Version != "2.8.2" || info.Branch != "HEAD" {
		t.Fatalf("buildinfo: %+v %v", info, err)
	}
	out, err := c.Probe()(context.Background())
	if err != nil || out.Version != "2.8.2" || c.Target() != srv.URL {
		t.Fatalf("probe: %+v %v (target %q)", out, err, c.Target())
	}
	c.Close()
	c.Close()
}

// Moved from pkg/health (TestFailureMessagesTellWhatToFix) with the probe.
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
		c := client(t, srv.URL+tc.path, 1)
		r := health.Run(context.Background(), []health.Check{{Name: "Tempo", Target: c.Target(), Fix: "tempo.url", Probe: c.Probe()}}, 200*time.Millisecond)
		msg := r.Results[0].Message
		if r.Results[0].Status != health.Warning || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "Check tempo.url") {
			t.Errorf("%s: %s %q", tc.path, r.Results[0].Status, msg)
		}
	}
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Tempo", "tempo.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, timeoutSeconds).Probe()
	})
}
