package plugin

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// collector is a StreamPacketSender that decodes every packet as a frame.
type collector struct{ frames chan *data.Frame }

func newCollector() *collector { return &collector{frames: make(chan *data.Frame, 1000)} }

func (c *collector) Send(p *backend.StreamPacket) error {
	var f data.Frame
	if err := json.Unmarshal(p.Data, &f); err != nil {
		return err
	}
	c.frames <- &f
	return nil
}

// next waits up to d for the next frame; nil when none came.
func (c *collector) next(d time.Duration) *data.Frame {
	select {
	case f := <-c.frames:
		return f
	case <-time.After(d):
		return nil
	}
}

func newTestApp(t *testing.T, jsonData map[string]any, secure map[string]string) *App {
	t.Helper()
	if _, ok := jsonData["storage"]; !ok {
		jsonData["storage"] = map[string]any{"path": filepath.Join(t.TempDir(), "meshwatch.db")}
	}
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := NewApp(context.Background(), backend.AppInstanceSettings{JSONData: raw, DecryptedSecureJSONData: secure})
	if err != nil {
		t.Fatal(err)
	}
	app := inst.(*App)
	t.Cleanup(app.Dispose)
	return app
}

// runStream runs RunStream in the background; the returned func cancels it
// and reports what RunStream returned, failing if it does not stop promptly.
func runStream(t *testing.T, app *App, data string, c *collector) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		ch <- app.RunStream(ctx, &backend.RunStreamRequest{
			PluginContext: backend.PluginContext{OrgID: 1, PluginID: PluginID, User: &backend.User{Login: "viewer", Role: "Viewer"}},
			Path:          alerts.StreamPath, Data: json.RawMessage(data),
		}, backend.NewStreamSender(c))
	}()
	t.Cleanup(cancel)
	return func() error {
		t.Helper()
		cancel()
		select {
		case err := <-ch:
			return err
		case <-time.After(3 * time.Second):
			t.Fatal("RunStream did not return within 3s of its context ending")
			return nil
		}
	}, ch
}

type row struct{ state, name, ns, wl, sev, summary, dash, runbook string }

// rowsOf reads the alerts frame by field name (its layout is pkg/alerts'
// to test).
func rowsOf(t *testing.T, f *data.Frame) []row {
	t.Helper()
	if f.Name != alerts.FrameName {
		t.Fatalf("frame %q, want %q", f.Name, alerts.FrameName)
	}
	n, _ := f.RowLen()
	out := make([]row, n)
	s := func(name string, i int) string {
		fd, _ := f.FieldByName(name)
		if fd == nil {
			t.Fatalf("frame has no field %q", name)
		}
		return fd.At(i).(string)
	}
	activeAt, _ := f.FieldByName("activeAt")
	for i := range out {
		out[i] = row{s("state", i), s("alertname", i), s("namespace", i), s("workload", i), s("severity", i),
			s("summary", i), s("dashboardUrl", i), s("runbook", i)}
		if at := activeAt.At(i).(time.Time); at.IsZero() || time.Since(at) > 10*time.Minute {
			t.Errorf("row %d activeAt %v", i, at)
		}
	}
	return out
}

func notices(f *data.Frame) []data.Notice {
	if f.Meta == nil {
		return nil
	}
	return f.Meta.Notices
}

func TestAlertsStreamAgainstPrometheus(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(AlertRulesForTest), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, EvaluationInterval: time.Second})
	setAlertsTiming(t, time.Second, 0)
	app := newTestApp(t, map[string]any{"prometheus": map[string]any{"url": prom.URL}, "kubernetes": map[string]any{"mode": "disabled"}}, nil)

	c := newCollector()
	stop, _ := runStream(t, app, `{"intervalMs": 1000}`, c)
	first := c.next(5 * time.Second)
	if first == nil {
		t.Fatal("no frame right after the stream started")
	}
	if len(notices(first)) != 0 {
		t.Fatalf("Prometheus is up, yet the frame has notices: %+v", notices(first))
	}
	// The rules need a first evaluation (1s); frames come as the content changes.
	var rows []row
	for deadline := time.Now().Add(30 * time.Second); len(rows) < 2; {
		f := first
		if f == nil {
			if f = c.next(time.Until(deadline)); f == nil {
				t.Fatalf("both alerts did not arrive within 30s; last rows %+v", rows)
			}
		}
		first = nil
		rows = rowsOf(t, f)
	}
	want := []row{
		{"firing", "CheckoutErrorBudgetBurn", "shop", "checkout", "critical", "checkout is burning its error budget",
			"/d/meshwatch-workload?var-namespace=shop&var-workload=checkout", "https://runbooks.example/checkout"},
		{"pending", "CartLatencyRising", "shop", "cart", "warning", "cart p99 latency is rising", "", ""},
	}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Fatalf("rows\n got %+v\nwant %+v", rows, want)
	}

	// Nothing changes now: no packet until the heartbeat (a minute).
	if f := c.next(2500 * time.Millisecond); f != nil {
		t.Errorf("an unchanged frame was sent again before the heartbeat: %+v", rowsOf(t, f))
	}

	// A viewer joining now gets the current frame as initial data.
	sub, err := app.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{
		PluginContext: backend.PluginContext{OrgID: 1, User: &backend.User{Login: "v", Role: "Viewer"}}, Path: alerts.StreamPath})
	if err != nil || sub.Status != backend.SubscribeStreamStatusOK || sub.InitialData == nil {
		t.Fatalf("subscribe: %+v %v", sub, err)
	}
	var initial data.Frame
	if err := json.Unmarshal(sub.InitialData.Data(), &initial); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, &initial); len(got) != 2 || got[0] != want[0] {
		t.Errorf("initial data rows %+v", got)
	}

	if err := stop(); err != nil {
		t.Errorf("RunStream returned %v on cancellation, want nil", err)
	}
}

func TestAlertsStreamPrometheusDown(t *testing.T) {
	down := ClosedURL(t)
	setAlertsTiming(t, time.Second, 1500*time.Millisecond)
	app := newTestApp(t, map[string]any{"prometheus": map[string]any{"url": down, "timeoutSeconds": 2},
		"kubernetes": map[string]any{"mode": "disabled"}}, map[string]string{"prometheusAuth": "s3cr3t-prom-token"})

	c := newCollector()
	stop, done := runStream(t, app, `{"intervalMs": 1000}`, c)
	for i := 0; i < 2; i++ {
		// The first frame comes at once; the second one is the heartbeat,
		// which shows the stream kept running and retrying.
		f := c.next(5 * time.Second)
		if f == nil {
			t.Fatalf("frame %d did not come", i+1)
		}
		if rows := rowsOf(t, f); len(rows) != 0 {
			t.Fatalf("rows while Prometheus is down: %+v", rows)
		}
		ns := notices(f)
		if len(ns) != 1 || ns[0].Severity != data.NoticeSeverityError {
			t.Fatalf("want one error notice, got %+v", ns)
		}
		text := ns[0].Text
		if !strings.HasPrefix(text, "Prometheus at "+down) || !strings.Contains(text, "unreachable") {
			t.Errorf("notice %q should name Prometheus at %s and say it is unreachable", text, down)
		}
		if strings.Contains(text, "s3cr3t") {
			t.Fatalf("the credential leaked into the notice: %q", text)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("RunStream ended while Prometheus was down: %v", err)
	default:
	}
	if err := stop(); err != nil {
		t.Errorf("RunStream returned %v on cancellation, want nil", err)
	}
}

func TestAlertsStreamInvalidSettings(t *testing.T) {
	app := newTestApp(t, map[string]any{"prometheus": map[string]any{"url": "ftp://admin:hunter2@prometheus:9090"},
		"ollama": map[string]any{"numCtx": 10}}, nil)
	c := newCollector()
	stop, _ := runStream(t, app, `{}`, c)
	f := c.next(5 * time.Second)
	if f == nil {
		t.Fatal("no frame")
	}
	ns := notices(f)
	if len(ns) != 1 {
		t.Fatalf("want one notice, got %+v", ns)
	}
	text := ns[0].Text
	if !strings.Contains(text, "prometheus.url") || !strings.Contains(text, "configuration page") {
		t.Errorf("notice %q should name prometheus.url and where to fix it", text)
	}
	if strings.Contains(text, "hunter2") || strings.Contains(text, "ollama") {
		t.Errorf("notice %q should mask URL credentials and leave unrelated settings out", text)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestSubscribeAndPublish(t *testing.T) {
	app := newTestApp(t, map[string]any{"prometheus": map[string]any{"url": ClosedURL(t), "timeoutSeconds": 1}}, nil)
	ctx := context.Background()
	for _, role := range []string{"Viewer", "Editor", "Admin", "None"} {
		resp, err := app.SubscribeStream(ctx, &backend.SubscribeStreamRequest{
			PluginContext: backend.PluginContext{OrgID: 1, User: &backend.User{Login: "u", Role: role}}, Path: "alerts"})
		if err != nil || resp.Status != backend.SubscribeStreamStatusOK {
			t.Errorf("%s: %+v %v", role, resp, err)
			continue
		}
		// Prometheus is down: the initial frame already says so.
		var f data.Frame
		if resp.InitialData == nil || json.Unmarshal(resp.InitialData.Data(), &f) != nil || len(notices(&f)) != 1 {
			t.Errorf("%s: initial data should be the error frame: %+v", role, resp.InitialData)
		}
	}
	resp, _ := app.SubscribeStream(ctx, &backend.SubscribeStreamRequest{
		PluginContext: backend.PluginContext{OrgID: 1, User: &backend.User{Role: "Admin"}}, Path: "alerts/other"})
	if resp.Status != backend.SubscribeStreamStatusNotFound {
		t.Errorf("unknown path: %v", resp.Status)
	}
	resp, _ = app.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: backend.PluginContext{OrgID: 1}, Path: "alerts"})
	if resp.Status != backend.SubscribeStreamStatusPermissionDenied {
		t.Errorf("no user: %v", resp.Status)
	}
	pub, err := app.PublishStream(ctx, &backend.PublishStreamRequest{
		PluginContext: backend.PluginContext{OrgID: 1, User: &backend.User{Role: "Admin"}}, Path: "alerts", Data: json.RawMessage(`{}`)})
	if err != nil || pub.Status != backend.PublishStreamStatusPermissionDenied {
		t.Errorf("publish: %+v %v", pub, err)
	}
	if err := app.RunStream(ctx, &backend.RunStreamRequest{Path: "nope"}, backend.NewStreamSender(newCollector())); err == nil {
		t.Error("RunStream on an unknown path should fail")
	}
}
