package loki_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
)

// The answers' shapes as Loki documents them (a stream value may carry a
// third element, structured metadata); and what is not a log or metric
// answer is an error.
func TestQueryAnswers(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		switch q := r.URL.Query().Get("query"); {
		case strings.HasPrefix(q, "matrix"):
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		case strings.HasPrefix(q, "badvalue"):
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["x","l"]]}]}}`))
		case r.URL.Path == loki.PathQuery:
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1700000000.5,"42"]}]}}`))
		default:
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"pod":"api-1"},` +
				`"values":[["1700000000000000001","line one"],["1700000000000000002","line two",{"trace_id":"x"}]]}]}}`))
		}
	}))
	defer srv.Close()
	c := client(t, srv.URL, 5)
	at := time.Unix(1700000000, 0)
	s, err := c.QueryRange(context.Background(), loki.LogQuery{Query: `{pod="api-1"}`, Start: at, End: at.Add(time.Minute), Limit: 10, Direction: loki.Backward})
	if err != nil || len(s) != 1 || s[0].Labels["pod"] != "api-1" || len(s[0].Entries) != 2 || s[0].Entries[1].Line != "line two" ||
		!s[0].Entries[0].T.Equal(time.Unix(0, 1700000000000000001)) {
		t.Fatalf("%+v %v", s, err)
	}
	if !strings.Contains(got[0], "limit=10") || !strings.Contains(got[0], "direction=backward") || !strings.Contains(got[0], "start=1700000000000000000") {
		t.Errorf("request %s", got[0])
	}
	v, err := c.QueryVector(context.Background(), `sum(count_over_time({a="b"}[1m]))`, at)
	if err != nil || len(v) != 1 || v[0].Value != 42 || v[0].Labels["pod"] != "a" {
		t.Fatalf("%+v %v", v, err)
	}
	for _, q := range []string{"matrix", "badvalue"} {
		if _, err := c.QueryRange(context.Background(), loki.LogQuery{Query: q, Start: at, End: at}); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	if _, err := c.QueryVector(context.Background(), "matrix", at); err == nil {
		t.Error("a matrix answer taken for a vector")
	}
}

func TestQueryRealLoki(t *testing.T) {
	srv := harness.StartLoki(t)
	c := client(t, srv.URL, 10)
	now := time.Now()
	body := `{"streams":[{"stream":{"namespace":"n","pod":"p-1"},"values":[["` + itoa(now.Add(-time.Minute).UnixNano()) + `","boom error"],["` + itoa(now.Add(-30*time.Second).UnixNano()) + `","fine"]]}]}`
	resp, err := http.Post(srv.URL+"/loki/api/v1/push", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("push: %v %v", err, resp)
	}
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := c.QueryRange(context.Background(), loki.LogQuery{Query: `{namespace="n"} |= "error"`, Start: now.Add(-5 * time.Minute), End: now, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(s) == 1 && len(s[0].Entries) == 1 && s[0].Entries[0].Line == "boom error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	v, err := c.QueryVector(context.Background(), `sum(count_over_time({namespace="n"}[5m]))`, now)
	if err != nil || len(v) != 1 || v[0].Value != 2 {
		t.Fatalf("%+v %v", v, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
