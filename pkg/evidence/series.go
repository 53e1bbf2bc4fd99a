package evidence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// MaxSeriesIDs bounds the evidence ids one Series call reads.
const MaxSeriesIDs = 24

// ErrUnknownEvidence: an id asked for is not a metric of the pack.
var ErrUnknownEvidence = errors.New("not a metric of the incident's evidence")

// SeriesData is the points of one metric of a pack, as the pack's capture
// read them: for a chart that shows the data a finding used.
type SeriesData struct {
	// Metric is the pack's metric (its summary: the change point, the
	// limit).
	Metric Metric
	// Points cover the baseline and the window: Start to the window's To.
	Points []Point
	// Query is the PromQL the points came from (one query can yield
	// several series; Metric's labels pick this one).
	Query string
	// Start is the baseline's start; Step the query's resolution.
	Start time.Time
	Step  time.Duration
}

// Series reads the points of the pack's metrics with these ids from
// Prometheus: the queries Collect ran for their kinds (plan), rebuilt from
// the pack's window and scope, over the same range and step, their answers
// mapped to metrics the same way and picked by evidence id. The pack must be
// the full pack of a capture (Compact may drop neighbours of the scope, and
// so change the queries' matchers, though not the series they give).
//
// An id that is not a metric of the pack is ErrUnknownEvidence; a metric
// whose series is not in Prometheus's answer (retention passed, or the
// series is gone) has no points. Errors from Prometheus are returned.
func Series(ctx context.Context, prom v1.API, p Pack, ids []string) ([]SeriesData, error) {
	if prom == nil {
		return nil, errors.New("no Prometheus configured")
	}
	if len(ids) > MaxSeriesIDs {
		return nil, fmt.Errorf("at most %d evidence ids at once, got %d", MaxSeriesIDs, len(ids))
	}
	want := map[string]int{}
	out := make([]SeriesData, 0, len(ids))
	for _, id := range ids {
		if _, dup := want[id]; dup {
			continue
		}
		kind, i, ok := p.Lookup(id)
		if !ok || kind != "metric" {
			return nil, fmt.Errorf("%q: %w", id, ErrUnknownEvidence)
		}
		want[id] = len(out)
		out = append(out, SeriesData{Metric: p.Metrics[i]})
	}
	if len(out) == 0 {
		return out, nil
	}
	c := &collector{subject: p.Subject, window: p.Window, scope: p.Scope, services: packServices(p)}
	c.spans()
	c.all = scopeWorkloads(c.subject, c.scope)
	queries, _ := c.plan()
	kinds := map[Kind]bool{}
	for _, s := range out {
		kinds[s.Metric.Kind] = true
	}
	var run []metricQuery
	for _, q := range queries {
		if slices.ContainsFunc(q.kinds, func(k Kind) bool { return kinds[k] }) {
			run = append(run, q)
		}
	}
	r := v1.Range{Start: c.start, End: c.window.To, Step: c.step}
	results := make([]model.Matrix, len(run))
	errs := make([]error, len(run))
	var wg sync.WaitGroup
	for i, q := range run {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := prom.QueryRange(ctx, q.expr, r)
			if err != nil {
				errs[i] = fmt.Errorf("query_range: %w", err)
				return
			}
			results[i], _ = v.(model.Matrix)
			if q.split != nil {
				results[i] = q.split(results[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, q := range run {
		for _, s := range results[i] {
			m, pts, ok := seriesMetric(q, s)
			if !ok {
				continue
			}
			j, asked := want[m.ID]
			if !asked || out[j].Points != nil {
				continue
			}
			out[j].Points, out[j].Query = pts, q.expr
		}
	}
	for i := range out {
		out[i].Start, out[i].Step = c.start, c.step
		if out[i].Query == "" {
			out[i].Query = queryOf(run, out[i].Metric.Kind)
		}
	}
	return out, nil
}

// queryOf is the query of a kind, for a metric whose series is gone.
func queryOf(queries []metricQuery, k Kind) string {
	var qs []string
	for _, q := range queries {
		if slices.Contains(q.kinds, k) {
			qs = append(qs, q.expr)
		}
	}
	return strings.Join(qs, "\n")
}

// packServices is the service → workload map a capture used, as its
// resilience metrics recorded it (Detail service, Peer the workload).
func packServices(p Pack) map[string]Workload {
	out := map[string]Workload{}
	for _, m := range p.Metrics {
		svc := m.Detail["service"]
		if svc == "" || m.Peer == "" {
			continue
		}
		w := Workload{Namespace: m.Namespace, Workload: m.Peer}
		if ns, name, ok := strings.Cut(m.Peer, "/"); ok {
			w = Workload{Namespace: ns, Workload: name}
		}
		out[svc] = w
	}
	return out
}
