package contractfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

func tracesDir(t *testing.T) (string, *simulator.Engine) {
	t.Helper()
	sc, err := simulator.LookupScenario("timeout-cascade")
	if err != nil {
		t.Fatal(err)
	}
	e, err := simulator.Simulate(context.Background(), simulator.Options{Scenario: sc, Seed: 3,
		End: time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), Duration: time.Hour, Resolution: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := e.WriteTempoFiles(dir); err != nil {
		t.Fatal(err)
	}
	return dir, e
}

func TestTempoSearchContract(t *testing.T) {
	dir, e := tracesDir(t)
	srv := contractfake.TempoWithTraces(t, "2.8.2", dir)
	c, err := tempo.New(settings.Endpoint{URL: srv.URL, TimeoutSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	all := e.Traces()
	if len(all) == 0 {
		t.Fatal("the simulator kept no traces")
	}
	start, end := all[len(all)-1].Start, all[0].Start

	// Tags and minDuration: every answer is at least that long and has the
	// attribute; the default limit is 20.
	got, err := c.Search(ctx, tempo.SearchRequest{Tags: "service.name=inventory", MinDuration: 500 * time.Millisecond,
		Start: start, End: end, Limit: 50})
	if err != nil || len(got) == 0 {
		t.Fatalf("tags search: %v %d", err, len(got))
	}
	for _, tr := range got {
		if tr.DurationMs < 500 || tr.TraceID == "" || tr.RootServiceName == "" || tr.Start().IsZero() {
			t.Errorf("trace %+v", tr)
		}
	}
	if many, _ := c.Search(ctx, tempo.SearchRequest{MinDuration: time.Nanosecond}); len(many) != min(20, len(all)) {
		t.Errorf("default limit: %d traces", len(many))
	}
	if none, err := c.Search(ctx, tempo.SearchRequest{Tags: "service.name=no-such-service"}); err != nil || len(none) != 0 {
		t.Errorf("unknown service: %v %d", err, len(none))
	}
	// Start/end bound the trace's start.
	if late, _ := c.Search(ctx, tempo.SearchRequest{MinDuration: time.Nanosecond, Start: end.Add(time.Hour), End: end.Add(2 * time.Hour)}); len(late) != 0 {
		t.Errorf("%d traces after the run", len(late))
	}

	// TraceQL: error spans of one service.
	errs, err := c.Search(ctx, tempo.SearchRequest{Q: `{ resource.service.name = "api" && status = error }`, Start: start, End: end, Limit: 100})
	if err != nil || len(errs) == 0 {
		t.Fatalf("traceql: %v %d", err, len(errs))
	}
	var wantErr int
	for _, s := range all {
		if s.Status >= 500 {
			wantErr++
		}
	}
	if len(errs) > wantErr {
		t.Errorf("%d error traces of api, only %d error traces at all", len(errs), wantErr)
	}
	slow, err := c.Search(ctx, tempo.SearchRequest{Q: `{ .service.name = "inventory" && duration >= 1s && kind = server }`, Start: start, End: end})
	if err != nil || len(slow) == 0 {
		t.Fatalf("slow traceql: %v %d", err, len(slow))
	}

	// The raw answer has Tempo's documented shape.
	resp, err := http.Get(srv.URL + "/api/search?" + url.Values{"q": {`{ status = error }`}, "limit": {"1"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var raw struct {
		Traces []struct {
			TraceID           string `json:"traceID"`
			StartTimeUnixNano string `json:"startTimeUnixNano"`
			SpanSets          []struct {
				Matched int `json:"matched"`
				Spans   []struct {
					SpanID, DurationNanos string
				} `json:"spans"`
			} `json:"spanSets"`
		} `json:"traces"`
		Metrics map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Traces) != 1 || len(raw.Traces[0].SpanSets) != 1 ||
		raw.Traces[0].SpanSets[0].Matched == 0 || raw.Traces[0].SpanSets[0].Spans[0].DurationNanos == "" || raw.Metrics == nil {
		t.Fatalf("answer %s (%v)", body, err)
	}
	// Trace by id, leading zeros or not.
	for _, p := range []string{"/api/traces/", "/api/v2/traces/"} {
		resp, err := http.Get(srv.URL + p + raw.Traces[0].TraceID)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, err, resp.Status)
		}
		resp.Body.Close()
	}

	// What the fake does not understand is a 400 naming it, never a wrong answer.
	for _, q := range []string{`{ a = 1 }`, `{ .a = 1 } | count() > 2`, `{ .a = 1 || .b = 2 }`, `{ .a > "x" }`, `nonsense`} {
		_, err := c.Search(ctx, tempo.SearchRequest{Q: q})
		if err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("q=%s: %v", q, err)
		}
	}
	for _, v := range []url.Values{{"limit": {"x"}}, {"start": {"yesterday"}}, {"minDuration": {"long"}}, {"tags": {`a="unterminated`}}} {
		resp, err := http.Get(srv.URL + "/api/search?" + v.Encode())
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %v %v", v, err, resp.Status)
		}
		resp.Body.Close()
	}
	if _, err := c.Search(ctx, tempo.SearchRequest{}); err == nil {
		t.Error("an empty search was sent")
	}
}
