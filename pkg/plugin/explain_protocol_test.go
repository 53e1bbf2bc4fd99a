package plugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/analyses"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/explain"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
	"github.com/meshwatch/meshwatch/pkg/plugin"
)

// "Explain this panel" over the plugin protocol, as Grafana calls the
// binary: a Viewer's POST explain is accepted with its channel, a request
// without a user is refused, and the channel streams the model's text and
// then the guarded answer (Ollama a contract fake answering from the
// prompt's panel).
func TestProtocolExplainPanel(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", contractfake.PanelEcho(explain.DataOpen, explain.DataClose, 20*time.Millisecond, nil),
		contractfake.OllamaModel{Name: "phi3:mini"})
	p, _ := startPlugin(t)
	pc := pluginContext(t, map[string]any{
		"prometheus": map[string]any{"url": plugin.ClosedURL(t)},
		"ollama":     map[string]any{"url": fake.URL, "model": "phi3:mini"},
		"kubernetes": map[string]any{"mode": "disabled"},
		"storage":    map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")},
	}, nil)
	pc.User = &backend.User{Login: "viewer", Role: "Viewer"}
	now := time.Now().UTC().Truncate(time.Second)
	body, _ := json.Marshal(explain.Request{
		Panel:     explain.Panel{Title: "Queue depth", Type: "timeseries"},
		Dashboard: explain.Dashboard{UID: "d", Title: "Workers"},
		Queries:   []explain.Query{{RefID: "A", Datasource: explain.DatasourceRef{Type: "prometheus", UID: "p"}, Expr: "queue_depth"}},
		TimeRange: explain.TimeRange{From: now.Add(-time.Hour), To: now},
		Series: []explain.Series{{ID: "s1", RefID: "A", Name: "queue_depth{pod=\"a\"}", Labels: map[string]string{"__name__": "queue_depth", "pod": "a"},
			Points: 60, Min: 10, Max: 50, Mean: 30, First: 10, Last: 50, Trend: explain.Trend{SlopePerHour: 40, Direction: explain.DirectionRising}}},
	})
	headers := map[string][]string{"Content-Type": {"application/json"}}

	anon := pc
	anon.User = nil
	if r := call(t, p, anon, http.MethodPost, "explain", body, headers); r.Status != http.StatusUnauthorized {
		t.Errorf("no user: %d %s", r.Status, r.Body)
	}
	r := call(t, p, pc, http.MethodPost, "explain", body, headers)
	var acc explain.Accepted
	if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &acc) != nil || acc.Channel != "explain/"+acc.ID || acc.Unavailable != "" {
		t.Fatalf("POST explain: %d %s", r.Status, r.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if sub, err := p.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: anon, Path: acc.Channel}); err != nil ||
		sub.Status != backend.SubscribeStreamStatusPermissionDenied {
		t.Errorf("subscribe without a user: %+v %v", sub, err)
	}
	sub, err := p.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: pc, Path: acc.Channel})
	if err != nil || sub.Status != backend.SubscribeStreamStatusOK || sub.InitialData == nil {
		t.Fatalf("subscribe %s: %+v %v", acc.Channel, sub, err)
	}
	var states []explain.State
	errDone := errors.New("done")
	err = p.RunStream(ctx, &backend.RunStreamRequest{PluginContext: pc, Path: acc.Channel}, func(pkt *backend.StreamPacket) error {
		var f data.Frame
		if err := json.Unmarshal(pkt.Data, &f); err != nil {
			return err
		}
		if f.Name != explain.FrameName || len(f.Fields) != 1 || f.Fields[0].Name != explain.FieldResponse {
			return errors.New("not the explain frame")
		}
		var st explain.State
		if err := json.Unmarshal([]byte(f.Fields[0].At(0).(string)), &st); err != nil {
			return err
		}
		states = append(states, st)
		if st.Status == explain.StatusDone || st.Status == explain.StatusFailed || st.Status == explain.StatusUnavailable {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) || len(states) == 0 {
		t.Fatalf("stream ended: %v after %d frames", err, len(states))
	}
	last := states[len(states)-1]
	if last.Status != explain.StatusDone || last.Answer == nil || last.Model != "phi3:mini" {
		t.Fatalf("last state %+v", last)
	}
	if n := last.Answer.Notable; len(n) != 1 || n[0].Uncited || n[0].Series[0] != "s1" {
		t.Errorf("notable %+v", n)
	}
	if q := last.Answer.NextQueries; len(q) != 1 || !q[0].Valid || q[0].Expr != "sum by (job) (queue_depth)" {
		t.Errorf("next queries %+v", q)
	}
	streamed := false
	for _, st := range states {
		streamed = streamed || (st.Status == explain.StatusStreaming && st.Text != "")
	}
	if !streamed {
		t.Errorf("no frame carried the text as it arrived (%d frames)", len(states))
	}
}

// An admin who runs no LLM switches it off (ollama.disabled): the health
// check shows the Ollama line off rather than failing, the write-up and
// "Explain this panel" say that no LLM is configured (the findings and the
// panel summary stand alone), re-running a write-up is refused with the
// same reason, and nothing is sent to the URL still in the settings.
func TestProtocolLLMSwitchedOff(t *testing.T) {
	var hits atomic.Int64
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "should not be asked", http.StatusTeapot)
	}))
	defer llm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An incident already in the store (an alert from before the switch).
	db := filepath.Join(t.TempDir(), "mw.db")
	st, err := sqlite.Open(ctx, db, incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": "QueueBacklog", "namespace": "jobs", "workload": "worker"}
	in, err := st.Ingest(ctx, time.Now(), incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{{
		Fingerprint: incident.FingerprintOf(labels), Status: incident.StatusFiring, Labels: labels, StartsAt: time.Now().Add(-time.Minute)}}})
	if err != nil || st.Close() != nil {
		t.Fatal(err)
	}
	if len(in.Changes) != 1 || in.Changes[0].Incident.ID != 1 {
		t.Fatalf("ingested %+v", in)
	}

	p, _ := startPlugin(t)
	pc := pluginContext(t, map[string]any{
		"prometheus": map[string]any{"url": plugin.ClosedURL(t), "timeoutSeconds": 2},
		"ollama":     map[string]any{"url": llm.URL, "disabled": true},
		"kubernetes": map[string]any{"mode": "disabled"},
		"storage":    map[string]any{"path": db},
	}, nil)
	res, err := p.CheckHealth(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^OFF +Ollama\b.*ollama\.disabled`).MatchString(res.Message) {
		t.Errorf("the Ollama health line should be off, naming ollama.disabled:\n%s", res.Message)
	}
	const why = "No LLM is configured (ollama.disabled is set)"

	pc.User = &backend.User{Login: "viewer", Role: "Viewer"}
	now := time.Now().UTC().Truncate(time.Second)
	body, _ := json.Marshal(explain.Request{
		Panel:     explain.Panel{Title: "Queue depth", Type: "timeseries"},
		Queries:   []explain.Query{{RefID: "A", Datasource: explain.DatasourceRef{Type: "prometheus", UID: "p"}, Expr: "queue_depth"}},
		TimeRange: explain.TimeRange{From: now.Add(-time.Hour), To: now},
		Series:    []explain.Series{{ID: "s1", RefID: "A", Name: "queue_depth", Points: 60, Min: 1, Max: 5, Mean: 3, First: 1, Last: 5}},
	})
	headers := map[string][]string{"Content-Type": {"application/json"}}
	r := call(t, p, pc, http.MethodPost, "explain", body, headers)
	var acc explain.Accepted
	if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &acc) != nil || !strings.HasPrefix(acc.Unavailable, why) {
		t.Errorf("POST explain: %d %s", r.Status, r.Body)
	}

	r = call(t, p, pc, http.MethodGet, "incidents/1/analysis", nil, nil)
	var state analyses.Response
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &state) != nil || state.State != analyses.StateUnavailable ||
		!strings.HasPrefix(state.Unavailable, why) {
		t.Errorf("GET the write-up: %d %s", r.Status, r.Body)
	}
	pc.User = &backend.User{Login: "editor", Role: "Editor"}
	r = call(t, p, pc, http.MethodPost, "incidents/1/analysis", nil, nil)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), why) {
		t.Errorf("POST a new write-up: %d %s", r.Status, r.Body)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the switched-off LLM's URL", n)
	}
}
