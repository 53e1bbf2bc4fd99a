package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
)

var viewer = &access.User{Login: "sa-1-alertmanager", Name: "alertmanager", Role: access.Viewer}

type instance struct {
	reg *capability.Registry
	svc *Service
	h   http.Handler
}

func openSQLite(path string) func(context.Context) (incident.Store, error) {
	return func(ctx context.Context) (incident.Store, error) {
		return sqlite.Open(ctx, path, incident.Config{Rules: incident.DefaultRules})
	}
}

func newInstance(t *testing.T, o Options) *instance {
	t.Helper()
	if o.StoreKey == "" {
		o.StoreKey = filepath.Join(t.TempDir(), "meshwatch.db")
	}
	if o.Open == nil {
		o.Open = openSQLite(o.StoreKey)
	}
	if o.Now == nil {
		o.Now = func() time.Time { return started.Add(30 * time.Minute) }
	}
	reg := capability.New()
	svc := Register(reg, o)
	t.Cleanup(reg.Dispose)
	return &instance{reg: reg, svc: svc, h: reg.Handler()}
}

func (in *instance) call(t *testing.T, u *access.User, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if u != nil {
		req = req.WithContext(access.WithUser(req.Context(), u))
	}
	rec := httptest.NewRecorder()
	in.h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, rec.Code, rec.Body.String())
	}
	return rec.Code, out
}

// amAlert is one alert of an Alertmanager webhook (payload version 4).
func amAlert(status string, labels map[string]string, startsAt time.Time) string {
	l, _ := json.Marshal(labels)
	ends := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		ends = startsAt.Add(10 * time.Minute).Format(time.RFC3339)
	}
	return fmt.Sprintf(`{"status":%q,"labels":%s,"annotations":{"summary":"from a rule MeshWatch did not write"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus:9090/graph","fingerprint":"ignored"}`,
		status, l, startsAt.Format(time.RFC3339), ends)
}

func amPayload(alerts ...string) string {
	return `{"version":"4","groupKey":"{}:{namespace=\"payments\"}","truncatedAlerts":0,"status":"firing","receiver":"meshwatch",` +
		`"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[` + strings.Join(alerts, ",") + `]}`
}

var started = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func crashLoop(pod string) map[string]string {
	return map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": pod, "severity": "warning"}
}

func TestIntakeAcknowledgesWhatItStoredAndNamesWhatItRefused(t *testing.T) {
	in := newInstance(t, Options{BodyLimit: 64 << 10})
	const route = RouteAlertmanager

	code, body := in.call(t, viewer, http.MethodPost, route, amPayload(
		amAlert("firing", crashLoop("ledger-7d9c6b5f4-x2x9z"), started),
		amAlert("firing", map[string]string{"namespace": "payments"}, started), // no alertname
		amAlert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "web", "app": "frontend", "severity": "critical"}, started),
	))
	if code != http.StatusOK || body["accepted"] != float64(2) {
		t.Fatalf("mixed delivery: %d %v", code, body)
	}
	rejected := body["rejected"].([]any)
	if len(rejected) != 1 || rejected[0].(map[string]any)["index"] != float64(1) || rejected[0].(map[string]any)["reason"] == "" {
		t.Fatalf("rejected: %v", rejected)
	}
	if ids := body["incidents"].([]any); len(ids) != 2 {
		t.Fatalf("two workloads should make two incidents: %v", ids)
	}

	cases := []struct {
		name, body string
		want       int
	}{
		{"empty body", "", http.StatusBadRequest},
		{"malformed JSON", `{"version":"4","alerts":[`, http.StatusBadRequest},
		{"another schema", `{"version":"3","alerts":[]}`, http.StatusUnprocessableEntity},
		{"no valid alert", amPayload(amAlert("firing", map[string]string{"namespace": "x"}, started)), http.StatusUnprocessableEntity},
		{"oversized", amPayload(strings.Repeat(amAlert("firing", crashLoop("a-1"), started)+",", 400) + amAlert("firing", crashLoop("a-1"), started)), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		code, body := in.call(t, viewer, http.MethodPost, route, c.body)
		if code != c.want || body["error"] == "" || body["error"] == nil || body["accepted"] != float64(0) {
			t.Errorf("%s: %d %v, want %d with an error", c.name, code, body, c.want)
		}
	}
	if code, _ := in.call(t, nil, http.MethodPost, route, amPayload(amAlert("firing", crashLoop("b-1"), started))); code != http.StatusUnauthorized {
		t.Errorf("no user: %d", code)
	}

	// Nothing the refused deliveries carried was stored.
	code, body = in.call(t, viewer, http.MethodGet, RouteIncidents, "")
	if list := body["incidents"].([]any); code != 200 || len(list) != 2 {
		t.Fatalf("list: %d %v", code, body)
	}
}

func TestIncidentRoutesListFilterAndShowOne(t *testing.T) {
	in := newInstance(t, Options{})
	in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(
		amAlert("firing", crashLoop("ledger-7d9c6b5f4-x2x9z"), started),
		amAlert("firing", crashLoop("ledger-7d9c6b5f4-k8p2m"), started),
		amAlert("resolved", map[string]string{"alertname": "HighErrorRate", "namespace": "web", "app": "frontend", "severity": "critical"}, started),
	))
	_, body := in.call(t, viewer, http.MethodGet, RouteIncidents+"?state=open", "")
	open := body["incidents"].([]any)
	if len(open) != 1 {
		t.Fatalf("open: %v", open)
	}
	inc := open[0].(map[string]any)
	if inc["key"].(map[string]any)["workload"] != "ledger" || inc["alerts"] != float64(2) {
		t.Fatalf("incident: %v", inc)
	}
	for q, n := range map[string]int{"?namespace=web": 1, "?severity=critical": 1, "?state=resolved": 1, "": 2, "?namespace=nowhere": 0} {
		_, body := in.call(t, viewer, http.MethodGet, RouteIncidents+q, "")
		if got := len(body["incidents"].([]any)); got != n {
			t.Errorf("%s: %d incidents, want %d", q, got, n)
		}
	}
	code, detail := in.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/%d", RouteIncidents, int64(inc["id"].(float64))), "")
	if code != 200 || len(detail["alerts"].([]any)) != 2 {
		t.Fatalf("detail: %d %v", code, detail)
	}
	for path, want := range map[string]int{RouteIncidents + "/999": 404, RouteIncidents + "/x": 400, RouteIncidents + "?state=maybe": 400} {
		if code, _ := in.call(t, viewer, http.MethodGet, path, ""); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

func TestAStoreThatCannotOpenAnswers503AndSaysWhy(t *testing.T) {
	in := newInstance(t, Options{StoreErr: errors.New("storage.path: must be absolute")})
	code, body := in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", crashLoop("a-1"), started)))
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["detail"]), "storage.path") {
		t.Fatalf("%d %v", code, body)
	}
	res, err := in.reg.Checks()[0].Probe(context.Background())
	if err == nil {
		t.Fatalf("health says %+v", res)
	}
}

// fakeSource is a reconcile source that records how many reads run at once.
type fakeSource struct {
	mu      sync.Mutex
	alerts  []incident.Alert
	err     error
	running atomic.Int32
	maxRun  atomic.Int32
	calls   atomic.Int32
}

func (f *fakeSource) set(alerts []incident.Alert, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts, f.err = alerts, err
}

func (f *fakeSource) active(ctx context.Context) ([]incident.Alert, error) {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxRun.Load()
		if n <= m || f.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	f.calls.Add(1)
	time.Sleep(2 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]incident.Alert(nil), f.alerts...), f.err
}

func normalized(t *testing.T, labels map[string]string) incident.Alert {
	t.Helper()
	a, err := incident.Normalize(incident.Alert{Status: incident.StatusFiring, Labels: labels, StartsAt: started, Source: incident.SourceAlertmanager})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestWebhookAndReconcileMakeOneIncidentAndReconcileResolvesWhatEnded(t *testing.T) {
	// The loop's own first reconcile runs at once; the source is down then.
	src := &fakeSource{err: errors.New("not up yet")}
	in := newInstance(t, Options{Reconcile: &Reconciler{Name: incident.SourceAlertmanager, Target: "fake", Active: src.active}, Every: time.Hour})
	waitCalls(t, src, 1)
	ctx := context.Background()
	labels := crashLoop("ledger-7d9c6b5f4-x2x9z")
	in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", labels, started)))

	// Missed while the plugin was down: a second alert only the reconcile sees.
	missed := map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "payments", "deployment": "ledger", "severity": "warning"}
	src.set([]incident.Alert{normalized(t, labels), normalized(t, missed)}, nil)
	if _, err := in.svc.ReconcileOnce(ctx); err != nil {
		t.Fatal(err)
	}
	_, body := in.call(t, viewer, http.MethodGet, RouteIncidents, "")
	list := body["incidents"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["alerts"] != float64(2) || list[0].(map[string]any)["state"] != "open" {
		t.Fatalf("webhook + reconcile of one workload should be one open incident with 2 alerts: %v", list)
	}

	// The source being down resolves nothing.
	src.set(nil, errors.New("connection refused"))
	if _, err := in.svc.ReconcileOnce(ctx); err == nil {
		t.Fatal("a failed read reported success")
	}
	_, body = in.call(t, viewer, http.MethodGet, RouteIncidents+"?state=open", "")
	if len(body["incidents"].([]any)) != 1 {
		t.Fatal("an unreachable source resolved the incident")
	}

	// Both alerts gone from the source: the incident resolves.
	src.set([]incident.Alert{}, nil)
	got, err := in.svc.ReconcileOnce(ctx)
	if err != nil || got.MissingResolved != 2 {
		t.Fatalf("reconcile: %+v %v", got, err)
	}
	_, body = in.call(t, viewer, http.MethodGet, RouteIncidents+"?state=resolved", "")
	if len(body["incidents"].([]any)) != 1 {
		t.Fatalf("resolved: %v", body)
	}
}

func TestTheStreamSendsTheListAndEveryChange(t *testing.T) {
	in := newInstance(t, Options{Heartbeat: time.Hour})
	st := in.reg.StreamAt(StreamPath)
	if _, err := st.Subscribe(context.Background(), nil, nil); !errors.Is(err, capability.ErrForbidden) {
		t.Fatalf("anonymous subscribe: %v", err)
	}
	if _, err := st.Subscribe(context.Background(), viewer, nil); err != nil {
		t.Fatal(err)
	}
	frames := make(chan *data.Frame, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, nil, func(f *data.Frame) error { frames <- f; return nil }) }()
	if f := <-frames; f.Rows() != 0 {
		t.Fatalf("first frame has %d rows", f.Rows())
	}
	in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", crashLoop("ledger-7d9c6b5f4-x2x9z"), started)))
	select {
	case f := <-frames:
		if f.Rows() != 1 || f.Fields[4].At(0) != "ledger" {
			t.Fatalf("frame after the webhook: %d rows", f.Rows())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame after the webhook")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run ended with %v", err)
	}

	// Disposing of the instance ends a running stream with ErrDisposed.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { done <- st.Run(ctx2, nil, func(*data.Frame) error { return nil }) }()
	time.Sleep(20 * time.Millisecond)
	in.reg.Dispose()
	if err := <-done; !errors.Is(err, capability.ErrDisposed) {
		t.Fatalf("after dispose: %v", err)
	}
}

// A settings save builds a new instance while the old one lives on for a
// few seconds: the new one takes the reconcile loop over and shares the
// open store, so there is never more than one loop.
func TestARebuildLeavesOneLoopAndOneStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshwatch.db")
	src := &fakeSource{}
	src.set([]incident.Alert{normalized(t, crashLoop("ledger-7d9c6b5f4-x2x9z"))}, nil)
	o := Options{StoreKey: path, Reconcile: &Reconciler{Name: incident.SourceAlertmanager, Active: src.active}, Every: time.Millisecond}
	old := newInstance(t, o)
	waitCalls(t, src, 5)
	fresh := newInstance(t, o)
	if old.svc.store != fresh.svc.store {
		t.Fatal("the rebuilt instance opened a second store on the same file")
	}
	n := src.calls.Load()
	waitCalls(t, src, n+5)
	old.reg.Dispose()
	n = src.calls.Load()
	waitCalls(t, src, n+5) // the new loop runs on after the old instance is gone
	if m := src.maxRun.Load(); m != 1 {
		t.Fatalf("%d reconciles ran at once", m)
	}
	_, body := fresh.call(t, viewer, http.MethodGet, RouteIncidents, "")
	if len(body["incidents"].([]any)) != 1 {
		t.Fatalf("incidents: %v", body)
	}
	fresh.reg.Dispose()
	n = src.calls.Load()
	time.Sleep(50 * time.Millisecond)
	if src.calls.Load() != n {
		t.Fatal("the loop runs on after every instance was disposed")
	}
	if _, err := fresh.svc.store.List(context.Background(), incident.Filter{}); err == nil {
		t.Fatal("the store is still open after every instance was disposed")
	}
}

func waitCalls(t *testing.T, src *fakeSource, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for src.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d reconciles ran, want %d", src.calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A delivery its sender truncated (max_alerts) makes the reconcile run at
// once, so the alerts left out come in from Alertmanager's API.
func TestATruncatedDeliveryTriggersAReconcile(t *testing.T) {
	src := &fakeSource{err: errors.New("not up yet")}
	in := newInstance(t, Options{Reconcile: &Reconciler{Name: incident.SourceAlertmanager, Active: src.active}, Every: time.Hour})
	waitCalls(t, src, 1)
	left := map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "ledger-7d9c6b5f4-zzzzz", "severity": "warning"}
	shown := crashLoop("ledger-7d9c6b5f4-x2x9z")
	src.set([]incident.Alert{normalized(t, shown), normalized(t, left)}, nil)
	body := strings.Replace(amPayload(amAlert("firing", shown, started)), `"truncatedAlerts":0`, `"truncatedAlerts":1`, 1)
	if code, ans := in.call(t, viewer, http.MethodPost, RouteAlertmanager, body); code != 200 {
		t.Fatalf("%d %v", code, ans)
	}
	waitCalls(t, src, 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, list := in.call(t, viewer, http.MethodGet, RouteIncidents, "")
		if l := list["incidents"].([]any); len(l) == 1 && l[0].(map[string]any)["alerts"] == float64(2) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the alert left out of the delivery never came in: %v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A new incident gets its evidence captured at once by the worker loop; the
// list shows the top finding, the detail the capture; a failing capture
// keeps the incident and is tried again; a fresh capture is not redone.
func TestNewIncidentsGetTheirEvidenceCaptured(t *testing.T) {
	var calls atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	capture := func(_ context.Context, inc incident.Incident, recs []incident.Record, now time.Time) (incident.Evidence, error) {
		calls.Add(1)
		if failing.Load() {
			return incident.Evidence{}, errors.New("prometheus unreachable")
		}
		return incident.Evidence{CapturedAt: now, Pack: []byte(`{"subject":{"namespace":"` + inc.Key.Namespace + `"}}`),
			Findings: []byte(`[{"cause":"crashloop","alerts":` + fmt.Sprint(len(recs)) + `}]`), TopFinding: inc.Key.Workload + " keeps restarting"}, nil
	}
	src := &fakeSource{err: errors.New("no reconcile here")}
	in := newInstance(t, Options{Capture: capture, CaptureEvery: time.Hour, Every: time.Hour,
		Reconcile: &Reconciler{Name: incident.SourceAlertmanager, Active: src.active}})
	waitCalls(t, src, 1)
	_, body := in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", crashLoop("ledger-7d9c6b5f4-x2x9z"), started)))
	id := int64(body["incidents"].([]any)[0].(float64))

	waitFor(t, func() bool { return calls.Load() >= 1 }, "the new incident's capture")
	if n := in.svc.CaptureDue(context.Background()); n != 0 {
		t.Fatalf("a failing capture saved %d", n)
	}
	_, detail := in.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/%d", RouteIncidents, id), "")
	if detail["evidence"] != nil || detail["incident"].(map[string]any)["state"] != "open" {
		t.Fatalf("after a failed capture: %v", detail)
	}

	failing.Store(false)
	if n := in.svc.CaptureDue(context.Background()); n != 1 {
		t.Fatalf("the retry saved %d captures, want 1", n)
	}
	_, detail = in.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/%d", RouteIncidents, id), "")
	ev, _ := detail["evidence"].(map[string]any)
	if ev == nil || ev["topFinding"] != "ledger keeps restarting" || ev["pack"].(map[string]any)["subject"] == nil {
		t.Fatalf("detail evidence: %v", detail["evidence"])
	}
	_, list := in.call(t, viewer, http.MethodGet, RouteIncidents, "")
	if top := list["incidents"].([]any)[0].(map[string]any)["topFinding"]; top != "ledger keeps restarting" {
		t.Errorf("the list's top finding: %v", top)
	}
	before := calls.Load()
	if n := in.svc.CaptureDue(context.Background()); n != 0 || calls.Load() != before {
		t.Errorf("a capture younger than CaptureEvery was redone")
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
