package tempo

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// PathSearch is Tempo's trace search (grafana.com/docs/tempo/latest/api_docs,
// "Search").
const PathSearch = "/api/search"

// SearchRequest is one GET /api/search. Either Q (a TraceQL query) or Tags
// (logfmt "key=value …", each value a case-insensitive substring) with
// MinDuration/MaxDuration; Start, End and Limit apply to both.
type SearchRequest struct {
	Q                        string
	Tags                     string
	MinDuration, MaxDuration time.Duration
	Start, End               time.Time
	// Limit is the most traces returned (Tempo's default 20 when 0).
	Limit int
}

// Query is the request's URL query, as the docs spell the parameters.
func (r SearchRequest) Query() url.Values {
	v := url.Values{}
	if r.Q != "" {
		v.Set("q", r.Q)
	}
	if r.Tags != "" {
		v.Set("tags", r.Tags)
	}
	if r.MinDuration > 0 {
		v.Set("minDuration", r.MinDuration.String())
	}
	if r.MaxDuration > 0 {
		v.Set("maxDuration", r.MaxDuration.String())
	}
	if !r.Start.IsZero() {
		v.Set("start", strconv.FormatInt(r.Start.Unix(), 10))
	}
	if !r.End.IsZero() {
		v.Set("end", strconv.FormatInt(r.End.Unix(), 10))
	}
	if r.Limit > 0 {
		v.Set("limit", strconv.Itoa(r.Limit))
	}
	return v
}

// TraceSummary is one trace of a search answer. Tempo writes the trace id in
// hex (leading zeros dropped), the start in Unix nanoseconds as a string,
// and leaves durationMs out when it is 0.
type TraceSummary struct {
	TraceID           string `json:"traceID"`
	RootServiceName   string `json:"rootServiceName"`
	RootTraceName     string `json:"rootTraceName"`
	StartTimeUnixNano string `json:"startTimeUnixNano"`
	DurationMs        int    `json:"durationMs"`
}

// Start is the trace's start time (zero when Tempo gave none).
func (t TraceSummary) Start() time.Time {
	ns, err := strconv.ParseInt(t.StartTimeUnixNano, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// SearchResponse is GET /api/search's answer (the metrics block is left
// out).
type SearchResponse struct {
	Traces []TraceSummary `json:"traces"`
}

// Search runs a trace search.
func (c *Client) Search(ctx context.Context, r SearchRequest) ([]TraceSummary, error) {
	if r.Q == "" && r.Tags == "" && r.MinDuration == 0 {
		return nil, fmt.Errorf("%s search: neither a TraceQL query nor tags nor a minimum duration", Name)
	}
	var ans SearchResponse
	if err := c.Up.GetJSON(ctx, PathSearch, r.Query(), &ans); err != nil {
		return nil, err
	}
	return ans.Traces, nil
}
