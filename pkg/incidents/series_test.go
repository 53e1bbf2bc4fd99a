package incidents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// memoryProm answers the working-set query with a rising istio-proxy
// series and records the queries; everything else is empty.
type memoryProm struct {
	v1.API
	queries []string
}

func (f *memoryProm) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, error) {
	f.queries = append(f.queries, q)
	if !strings.Contains(q, "container_memory_working_set_bytes") {
		return model.Matrix{}, nil, nil
	}
	s := &model.SampleStream{Metric: model.Metric{"namespace": "shop", "pod": "cart-7c9d8b5f4-x2x9z", "container": "istio-proxy"}}
	for i, t := 0, r.Start; !t.After(r.End); i, t = i+1, t.Add(r.Step) {
		s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(1e8 + float64(i)*1e6)})
	}
	return model.Matrix{s}, nil, nil
}

func TestSeriesRouteAnswersTheCapturesSeriesAsFrames(t *testing.T) {
	prom := &memoryProm{}
	in := newInstance(t, Options{Series: SeriesFrom(prom)})
	_, body := in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", crashLoop("ledger-7d9c6b5f4-x2x9z"), started)))
	id := int64(body["incidents"].([]any)[0].(float64))
	route := func(q string) string { return fmt.Sprintf("%s/%d/series%s", RouteIncidents, id, q) }

	if code, _ := in.call(t, viewer, http.MethodGet, route("?ids=smem-1"), ""); code != http.StatusNotFound {
		t.Errorf("before any capture: %d, want 404", code)
	}

	from := started.Add(-5 * time.Minute)
	limit, change := 256e6, started.Add(-time.Minute)
	smem := evidence.MetricID(evidence.KindSidecarMemory, "shop", "cart", "", "istio-proxy", nil)
	pack := evidence.Pack{Window: evidence.Window{From: from, To: started.Add(20 * time.Minute)}, Subject: evidence.Workload{Namespace: "shop", Workload: "cart"},
		Metrics: []evidence.Metric{{ID: smem, Kind: evidence.KindSidecarMemory, Namespace: "shop", Workload: "cart", Container: "istio-proxy",
			Unit: evidence.UnitBytes, Summary: evidence.Summary{Limit: &limit, ChangeAt: &change}}},
		Logs: []evidence.LogPattern{{ID: "log-abcdef", Namespace: "shop", Workload: "cart"}}}
	raw, _ := json.Marshal(pack)
	if err := in.svc.store.SaveEvidence(context.Background(), id, incident.Evidence{CapturedAt: started, Pack: raw, Findings: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}

	for q, want := range map[string]int{"": 400, "?ids=": 400, "?ids=nope": 400, "?ids=log-abcdef": 400,
		"?ids=" + strings.Repeat("x,", evidence.MaxSeriesIDs+1): 400} {
		if code, body := in.call(t, viewer, http.MethodGet, route(q), ""); code != want || body["message"] == nil && body["error"] == nil {
			t.Errorf("%q: %d %v, want %d with a reason", q, code, body, want)
		}
	}
	if len(prom.queries) != 0 {
		t.Errorf("bad input queried Prometheus: %v", prom.queries)
	}
	if code, _ := in.call(t, nil, http.MethodGet, route("?ids="+smem), ""); code != http.StatusUnauthorized {
		t.Errorf("no user: %d", code)
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, route("?ids="+smem), nil)
	in.h.ServeHTTP(rec, req.WithContext(access.WithUser(req.Context(), viewer)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var resp struct {
		Frames []json.RawMessage `json:"frames"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Frames) != 1 {
		t.Fatalf("%v %s", err, rec.Body)
	}
	var f data.Frame
	if err := json.Unmarshal(resp.Frames[0], &f); err != nil {
		t.Fatalf("not a data frame: %v", err)
	}
	n, _ := f.RowLen()
	if f.Name != smem || len(f.Fields) != 2 || n < 100 || f.Fields[1].Labels["container"] != "istio-proxy" {
		t.Fatalf("frame %s: %d fields, %d rows, labels %v", f.Name, len(f.Fields), n, f.Fields[1].Labels)
	}
	first, _ := f.Fields[0].ConcreteAt(0)
	last, _ := f.Fields[0].ConcreteAt(n - 1)
	if !first.(time.Time).Before(from) || !last.(time.Time).Equal(pack.Window.To) {
		t.Errorf("points %v to %v: not the baseline and the window", first, last)
	}
	if len(prom.queries) != 1 || f.Meta == nil || f.Meta.ExecutedQueryString != prom.queries[0] {
		t.Errorf("ran %v; the frame says %+v", prom.queries, f.Meta)
	}
	custom, _ := json.Marshal(f.Meta.Custom)
	var meta SeriesMeta
	_ = json.Unmarshal(custom, &meta)
	if meta.From != from.UnixMilli() || meta.Change != change.UnixMilli() || meta.Limit != limit || meta.Unit != evidence.UnitBytes {
		t.Errorf("meta %+v", meta)
	}

	// Without a Prometheus the route says so.
	bare := newInstance(t, Options{})
	if code, _ := bare.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/1/series?ids=x", RouteIncidents), ""); code != http.StatusServiceUnavailable {
		t.Errorf("no Prometheus: %d", code)
	}
}
