package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// API paths of Loki's query API (grafana.com/docs/loki/latest/reference/loki-http-api).
const (
	PathQueryRange = "/loki/api/v1/query_range"
	PathQuery      = "/loki/api/v1/query"
)

// Directions of a log query.
const (
	Forward  = "forward"
	Backward = "backward"
)

// Entry is one log line of a stream.
type Entry struct {
	T    time.Time
	Line string
}

// Stream is one stream of a log query's answer: its labels and lines.
type Stream struct {
	Labels  map[string]string
	Entries []Entry
}

// LogQuery is a log query over a time range (GET /loki/api/v1/query_range
// with a log selector, resultType "streams").
type LogQuery struct {
	Query      string
	Start, End time.Time
	// Limit is the most lines returned (Loki's default 100 when 0; Loki
	// refuses more than its max_entries_limit_per_query, 5000 by default).
	Limit int
	// Direction is Forward or Backward (Loki's default, newest first).
	Direction string
}

type answer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// QueryRange runs a log query and returns its streams. A metric query (its
// answer a matrix) is an error.
func (c *Client) QueryRange(ctx context.Context, q LogQuery) ([]Stream, error) {
	v := url.Values{"query": {q.Query}, "start": {nanos(q.Start)}, "end": {nanos(q.End)}}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	var ans answer
	if err := c.Up.GetJSON(ctx, PathQueryRange, v, &ans); err != nil {
		return nil, c.refusal(err)
	}
	if ans.Status != "success" || ans.Data.ResultType != "streams" {
		return nil, c.Up.JSONError(PathQueryRange, fmt.Errorf("status %q, resultType %q: not a log query's answer", ans.Status, ans.Data.ResultType))
	}
	var raw []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(ans.Data.Result, &raw); err != nil {
		return nil, c.Up.JSONError(PathQueryRange, err)
	}
	out := make([]Stream, 0, len(raw))
	for _, r := range raw {
		s := Stream{Labels: r.Stream, Entries: make([]Entry, 0, len(r.Values))}
		for _, v := range r.Values {
			// [ "<unix ns>", "<line>" (, {structured metadata}) ]
			var ts, line string
			if len(v) < 2 || json.Unmarshal(v[0], &ts) != nil || json.Unmarshal(v[1], &line) != nil {
				return nil, c.Up.JSONError(PathQueryRange, fmt.Errorf("a stream value is not [timestamp, line]"))
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, c.Up.JSONError(PathQueryRange, fmt.Errorf("timestamp %q: %w", ts, err))
			}
			s.Entries = append(s.Entries, Entry{T: time.Unix(0, ns).UTC(), Line: line})
		}
		out = append(out, s)
	}
	return out, nil
}

// Sample is one series of a metric query's instant answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// QueryVector runs a LogQL metric query at one instant (GET
// /loki/api/v1/query, resultType "vector"), e.g.
// sum by (pod) (count_over_time({namespace="x"} |= "error" [10m])).
func (c *Client) QueryVector(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	var ans answer
	if err := c.Up.GetJSON(ctx, PathQuery, url.Values{"query": {query}, "time": {nanos(at)}}, &ans); err != nil {
		return nil, c.refusal(err)
	}
	if ans.Status != "success" || ans.Data.ResultType != "vector" {
		return nil, c.Up.JSONError(PathQuery, fmt.Errorf("status %q, resultType %q: not a metric query's instant answer", ans.Status, ans.Data.ResultType))
	}
	var raw []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal(ans.Data.Result, &raw); err != nil {
		return nil, c.Up.JSONError(PathQuery, err)
	}
	out := make([]Sample, 0, len(raw))
	for _, r := range raw {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, c.Up.JSONError(PathQuery, fmt.Errorf("sample value %v: %w", r.Value[1], err))
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
