package plugin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/capability"
)

// fakePrometheus answers /api/v1/alerts with no alerts and counts the calls.
func fakePrometheus(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/alerts" {
			hits.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"alerts":[]}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// Grafana rebuilds the instance on every settings save and disposes of the
// old one. Fifty saves while a stream runs: each old stream ends with the
// "settings changed" error (so Grafana re-establishes it on the new
// instance), the old instance never calls its Prometheus again, and no
// goroutine is left behind.
func TestSettingsSavesWhileStreaming(t *testing.T) {
	setAlertsTiming(t, 20*time.Millisecond, 0)
	before := runtime.NumGoroutine()
	db := filepath.Join(t.TempDir(), "meshwatch.db")
	for i := 0; i < 50; i++ {
		srv, hits := fakePrometheus(t)
		inst, err := NewApp(context.Background(), backend.AppInstanceSettings{
			JSONData: []byte(`{"prometheus":{"url":"` + srv.URL + `"},"kubernetes":{"mode":"disabled"},"storage":{"path":"` + db + `"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		app := inst.(*App)
		c := newCollector()
		done := make(chan error, 1)
		go func() {
			done <- app.RunStream(context.Background(), &backend.RunStreamRequest{
				PluginContext: backend.PluginContext{OrgID: 1, User: &backend.User{Login: "v", Role: "Viewer"}},
				Path:          alerts.StreamPath}, backend.NewStreamSender(c))
		}()
		if c.next(5*time.Second) == nil {
			t.Fatalf("save %d: no frame", i)
		}
		app.Dispose()
		select {
		case err := <-done:
			if !errors.Is(err, capability.ErrDisposed) || !strings.Contains(err.Error(), "settings changed") {
				t.Fatalf("save %d: the stream of the disposed instance ended with %v, want the settings-changed error", i, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("save %d: the stream of the disposed instance is still running", i)
		}
		// A request sent just before the dispose may reach the server a
		// moment later: let it land, then no new one may start.
		time.Sleep(20 * time.Millisecond)
		after := hits.Load()
		time.Sleep(60 * time.Millisecond) // three poll intervals
		if n := hits.Load(); n != after {
			t.Fatalf("save %d: the disposed instance called its Prometheus %d more times", i, n-after)
		}
		app.Dispose() // twice is harmless
		srv.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after 50 saves, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
