package stack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

const rulesDir = "../../../deploy/base/monitoring/rules"

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// The stack a person previews with: the fault's history is queryable, the
// live mesh is scraped, the scenario's alert is raised by the real rule
// manager, the logs reach Loki, and the fakes answer.
func TestStackRunsTheScenarioLive(t *testing.T) {
	harness.RequireBinary(t, harness.BinPrometheus) // skip (or fail under CI) when the tools are missing
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Scenario: "sidecar-memory-leak", Seed: 1, RulesDir: rulesDir,
		EvaluationInterval: 2 * time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if _, err := http.Get(s.Prometheus + "/-/ready"); err == nil {
			t.Error("Prometheus still answers after Close")
		}
	}()

	// History: the sidecar's working set three hours ago came from the backfill.
	var q struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	at := time.Now().Add(-3 * time.Hour).Unix()
	getJSON(t, s.Prometheus+"/api/v1/query?"+url.Values{
		"query": {`container_memory_working_set_bytes{namespace="shop",container="istio-proxy",pod=~"api-.*"}`},
		"time":  {time.Unix(at, 0).Format(time.RFC3339)}}.Encode(), &q)
	if len(q.Data.Result) == 0 {
		t.Error("no backfilled working set for the api sidecar 3h ago")
	}

	type alert struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	}
	// The leak began hours ago in the history, longer than the rule's 30m
	// `for`: Prometheus restores that from ALERTS_FOR_STATE and the alert
	// fires (and reaches Alertmanager) without waiting another 30 minutes.
	var found *alert
	var up float64
	deadline := time.Now().Add(2 * time.Minute)
	for (found == nil || found.State != "firing" || up != 1) && time.Now().Before(deadline) {
		var a struct {
			Data struct {
				Alerts []alert `json:"alerts"`
			} `json:"data"`
		}
		getJSON(t, s.Prometheus+"/api/v1/alerts", &a)
		for i, al := range a.Data.Alerts {
			if al.Labels["alertname"] == "MeshSidecarMemoryLeak" && al.Labels["namespace"] == "shop" && al.Labels["workload"] == "api" {
				found = &a.Data.Alerts[i]
			}
		}
		getJSON(t, s.Prometheus+"/api/v1/query?query="+url.QueryEscape(`up{job="harness"}`), &q)
		if len(q.Data.Result) == 1 && q.Data.Result[0].Value[1] == "1" {
			up = 1
		}
		time.Sleep(2 * time.Second)
	}
	if found == nil {
		t.Fatal("MeshSidecarMemoryLeak shop/api was not raised within 2 min")
	}
	if found.State != "firing" {
		t.Errorf("alert state %q, want firing (its `for` restored from the history)", found.State)
	}
	var amAlerts []struct {
		Labels map[string]string `json:"labels"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		getJSON(t, s.Alertmanager+"/api/v2/alerts", &amAlerts)
		if len(amAlerts) > 0 {
			break
		}
		time.Sleep(time.Second)
	}
	names := []string{}
	for _, a := range amAlerts {
		names = append(names, a.Labels["alertname"]+" "+a.Labels["workload"])
	}
	if !slices.Contains(names, "MeshSidecarMemoryLeak api") {
		t.Errorf("Alertmanager has %v, want MeshSidecarMemoryLeak api", names)
	}
	if up != 1 {
		t.Error("the live simulator is not scraped (up != 1)")
	}

	// Logs: the history's lines are in Loki.
	var l struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.Loki+"/loki/api/v1/query_range?"+url.Values{
		"query": {`{namespace="shop"}`}, "limit": {"5"},
		"start": {time.Now().Add(-50 * time.Minute).Format(time.RFC3339)}, "end": {time.Now().Format(time.RFC3339)}}.Encode(), &l)
	if len(l.Data.Result) == 0 {
		t.Error("no shop logs in Loki for the last 50 minutes")
	}

	// The fakes answer their documented endpoints, and say they are fakes in String.
	var tags struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	getJSON(t, s.Ollama+"/api/tags", &tags)
	if len(tags.Models) != 1 || tags.Models[0].Name != OllamaFakeModel {
		t.Errorf("ollama fake tags %+v", tags)
	}
	// Tempo's fake answers a search over the last hour with the history's
	// traces (the evidence's traces source has something to read).
	var search struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
		} `json:"traces"`
	}
	getJSON(t, s.Tempo+"/api/search?"+url.Values{"q": {"{ duration >= 0ms }"}, "limit": {"20"},
		"start": {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix(), 10)}}.Encode(), &search)
	if len(search.Traces) == 0 || search.Traces[0].TraceID == "" {
		t.Errorf("the Tempo fake found no trace of the last hour: %+v", search)
	}
	if s.Settings()["kubernetes.mode"] != "disabled" {
		t.Error("the stack has no Kubernetes API; the app must not look for one")
	}
	if !strings.Contains(s.String(), "tempo(contract fake)=") {
		t.Errorf("String does not name the fakes: %s", s)
	}
	for k, v := range s.Settings() {
		if strings.HasSuffix(k, ".url") && !strings.HasPrefix(v, "http://127.0.0.1:") {
			t.Errorf("%s = %q is not on loopback", k, v)
		}
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{Scenario: "meltdown", RulesDir: rulesDir}); err == nil || !strings.Contains(err.Error(), `unknown scenario "meltdown"`) {
		t.Errorf("unknown scenario: %v", err)
	}
	if _, err := Start(ctx, Options{Scenario: "healthy", RulesDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no alert rule files") {
		t.Errorf("no rules: %v", err)
	}
	// A missing server binary is an error that says how to install it, and
	// nothing is left running or on disk.
	t.Setenv("MESHWATCH_TOOLS", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := Start(ctx, Options{Scenario: "healthy", RulesDir: rulesDir})
	if err == nil || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), "install-tools") {
		t.Errorf("missing binaries: %v", err)
	}
}
