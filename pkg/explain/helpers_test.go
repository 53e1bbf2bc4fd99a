package explain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
)

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

var (
	viewer = &access.User{Login: "v", Role: access.Viewer}
	editor = &access.User{Login: "e", Role: access.Editor}
	admin  = &access.User{Login: "a", Role: access.Admin}
)

// request is a panel of n series over the hour before t0, each with a
// change point and a gap.
func request(n int) Request {
	r := Request{
		Panel:     Panel{Title: "Request rate", Description: "Requests per second by pod", Type: "timeseries"},
		Dashboard: Dashboard{UID: "d1", Title: "Workload"},
		Queries: []Query{{RefID: "A", Datasource: DatasourceRef{Type: DatasourcePrometheus, UID: "prom"},
			Expr: `sum by (pod) (rate(http_requests_total{namespace="shop"}[5m]))`}},
		TimeRange: TimeRange{From: t0.Add(-time.Hour), To: t0},
	}
	for i := range n {
		r.Series = append(r.Series, Series{
			ID: fmt.Sprintf("s%d", i+1), RefID: "A", Name: fmt.Sprintf("pod-%d", i),
			Labels: map[string]string{"pod": fmt.Sprintf("pod-%d", i), "namespace": "shop"},
			Points: 240, Min: 1.5 * float64(i+1), Max: 120.25 * float64(i+1), Mean: 40.123456, Last: 118, First: 2,
			Trend:        Trend{SlopePerHour: 110.5, Direction: DirectionRising},
			ChangePoints: []ChangePoint{{At: t0.Add(-20 * time.Minute), Before: 3.25, After: 117.5}},
			Gaps:         []Gap{{From: t0.Add(-40 * time.Minute), To: t0.Add(-35 * time.Minute)}},
		})
	}
	return r
}

// post sends body to path as u, through the registry's routes.
func post(t *testing.T, reg *capability.Registry, u *access.User, path string, body []byte) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if u != nil {
		req = req.WithContext(access.WithUser(req.Context(), u))
	}
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
