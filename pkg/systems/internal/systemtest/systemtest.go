// Package systemtest checks, for every system package, that its health probe
// explains the ways an HTTP upstream fails (refused credentials, wrong root,
// not JSON, oversized, slow, down) the way the health report promises, and
// never shows the credentials. Only tests import it.
package systemtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Secret is the credential the probes under test must send and never show.
const Secret = "s3cr3t-systemtest-token"

// Probe builds the probe under test for base, sending "Bearer "+Secret with
// the given per-request timeout (in seconds, as the settings have it).
type Probe func(t *testing.T, base string, timeoutSeconds int) health.Probe

// ErrorPaths runs mk's probe against a server that fails in each way under
// its own path prefix, and checks each health line names the failure. name
// is the dependency's name in the health report, fix the setting to check.
func ErrorPaths(t *testing.T, name, fix string, mk Probe) {
	t.Helper()
	var auth atomic.Value
	auth.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0] {
		case "forbidden":
			auth.Store(r.Header.Get("Authorization"))
			http.Error(w, "RBAC: access denied", http.StatusForbidden)
		case "html":
			_, _ = w.Write([]byte("<html>login</html>"))
		case "big":
			_, _ = w.Write([]byte(`{"version":"`))
			_, _ = w.Write([]byte(strings.Repeat("x", upstream.DefaultMaxResponseBytes)))
		case "slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	line := func(base string, timeoutSeconds int, perCheck time.Duration) health.Result {
		r := health.Run(context.Background(), []health.Check{{Name: name, Target: base, Fix: fix,
			Probe: mk(t, base, timeoutSeconds)}}, perCheck)
		return r.Results[0]
	}
	check := func(what string, res health.Result, want string) {
		t.Helper()
		if res.Status != health.Warning || !regexp.MustCompile(want).MatchString(res.Message) ||
			!strings.Contains(res.Message, "Check "+fix) || strings.Contains(res.Message, Secret) {
			t.Errorf("%s: %s %q, want a warning matching %q that names %s", what, res.Status, res.Message, want, fix)
		}
	}
	check("403", line(srv.URL+"/forbidden", 10, 5*time.Second), `refused the credentials \(HTTP 403\)`)
	if got := auth.Load(); got != "Bearer "+Secret {
		t.Errorf("the probe sent Authorization %q", got)
	}
	check("404", line(srv.URL+"/missing", 10, 5*time.Second), `answered 404: the URL does not point at the `+regexp.QuoteMeta(name)+` API root`)
	check("not JSON", line(srv.URL+"/html", 10, 5*time.Second), `not (the expected )?JSON`)
	check("oversized", line(srv.URL+"/big", 60, 60*time.Second), `response too large`)
	check("slow, per-check deadline", line(srv.URL+"/slow", 10, 200*time.Millisecond), `no answer from .* within 200ms`)
	start := time.Now()
	check("slow, timeoutSeconds 1", line(srv.URL+"/slow", 1, 5*time.Second), `no answer from`)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeoutSeconds 1 gave up after %s", d)
	}
	down := srv.URL
	srv.Close()
	check("down", line(down, 10, 5*time.Second), `cannot connect to .*connection refused`)
}
