package dashboards

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// This file reads the committed dashboard JSON back and renders each panel's
// queries the way Grafana 12 does before sending them to Prometheus or Loki:
// the panel's interval from the time range, maxDataPoints (else the panel's
// width in pixels) and the minimum interval (the panel's, else the
// datasource's scrape interval, 15s as provisioned); $__rate_interval =
// max($__interval + scrape interval, 4 × scrape interval) with the
// datasource's scrape interval (a panel's min interval does not change it,
// only a query's own min step would); $__range; the
// dashboard variables (multi-value "All" → its allValue ".*"); the range
// aligned to the step. Ported from grafana/grafana pkg/promlib
// (calculatePrometheusInterval, calculateRateInterval) and
// pkg/tsdb/intervalv2 (Calculate, roundInterval).

const (
	dsScrapeInterval = 15 * time.Second // provisioning/datasources: timeInterval 15s
	screenWidthPx    = 1800             // a 24-column dashboard on a 1920-px screen
	safeResolution   = 11000
)

// jDashboard and jPanel are the read model of a dashboard file.
type jDashboard struct {
	Description   string          `json:"description"`
	Links         []DashboardLink `json:"links"`
	Panels        []jPanel        `json:"panels"`
	Revision      int             `json:"revision"`
	SchemaVersion int             `json:"schemaVersion"`
	Tags          []string        `json:"tags"`
	Templating    Templating      `json:"templating"`
	Time          TimeRange       `json:"time"`
	Title         string          `json:"title"`
	UID           string          `json:"uid"`
	Annotations   Annotations     `json:"annotations"`
	ID            *int            `json:"id"`
}

type jPanel struct {
	Datasource      *DSRef           `json:"datasource"`
	Description     string           `json:"description"`
	FieldConfig     FieldConfig      `json:"fieldConfig"`
	GridPos         GridPos          `json:"gridPos"`
	ID              int              `json:"id"`
	Interval        string           `json:"interval"`
	MaxDataPoints   int              `json:"maxDataPoints"`
	Panels          []jPanel         `json:"panels"`
	Targets         []Target         `json:"targets"`
	Title           string           `json:"title"`
	Transformations []Transformation `json:"transformations"`
	Type            string           `json:"type"`
}

// loadDashboard reads dashboards/<name> as committed.
func loadDashboard(t testing.TB, name string) *jDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(".", name))
	if err != nil {
		t.Fatal(err)
	}
	var d jDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &d
}

// visualPanels are the panels that are not rows, in layout order.
func (d *jDashboard) visualPanels() []jPanel {
	var out []jPanel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...) // collapsed rows keep their panels inside
			continue
		}
		out = append(out, p)
	}
	return out
}

// unitOf is the unit a target's values display in: a byFrameRefID override
// for its refId; in a table, a byName override of the column its values
// become (renamed by an organize transformation); else the panel default.
func (p *jPanel) unitOf(refID string) string {
	unit := p.FieldConfig.Defaults.Unit
	column := "Value #" + refID
	if len(p.Targets) == 1 {
		column = "Value"
	}
	for _, tr := range p.Transformations {
		if tr.ID != "organize" {
			continue
		}
		if names, ok := tr.Options["renameByName"].(map[string]any); ok {
			if n, ok := names[column].(string); ok {
				column = n
			}
		}
	}
	for _, o := range p.FieldConfig.Overrides {
		match := (o.Matcher.ID == "byFrameRefID" && o.Matcher.Options == refID) ||
			(p.Type == "table" && o.Matcher.ID == "byName" && o.Matcher.Options == column)
		if !match {
			continue
		}
		for _, pr := range o.Properties {
			if pr.ID == "unit" {
				unit, _ = pr.Value.(string)
			}
		}
	}
	return unit
}

// rendered is one query as Grafana sends it.
type rendered struct {
	Panel   *jPanel
	RefID   string
	DSType  string // prometheus or loki
	Expr    string
	Instant bool
	Start   time.Time
	End     time.Time
	Step    time.Duration
	Limit   int // loki maxLines
	Unit    string
}

// renderer holds the dashboard state a render depends on.
type renderer struct {
	From, To time.Time
	Vars     map[string]string // variable name → value ("$__all" means All)
	dash     *jDashboard
}

func newRenderer(d *jDashboard, to time.Time, vars map[string]string) *renderer {
	dur, err := parseRelative(d.Time.From)
	if err != nil {
		panic(err)
	}
	return &renderer{From: to.Add(-dur), To: to, Vars: vars, dash: d}
}

// parseRelative reads "now-1h" style starts.
func parseRelative(s string) (time.Duration, error) {
	if !strings.HasPrefix(s, "now-") {
		return 0, fmt.Errorf("time.from %q is not now-<duration>", s)
	}
	return parseGrafanaDuration(strings.TrimPrefix(s, "now-"))
}

func parseGrafanaDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		var n int
		_, err := fmt.Sscanf(s, "%dd", &n)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// roundInterval is Grafana's interval rounding (pkg/tsdb/intervalv2).
func roundInterval(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	steps := []struct{ upTo, to int64 }{
		{10, 1}, {15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500}, {1500, 1000}, {3500, 2000},
		{7500, 5000}, {12500, 10000}, {17500, 15000}, {25000, 20000}, {45000, 30000}, {90000, 60000},
		{210000, 120000}, {450000, 300000}, {750000, 600000}, {1050000, 900000}, {1500000, 1200000},
		{2700000, 1800000}, {5400000, 3600000}, {9000000, 7200000}, {16200000, 10800000},
		{32400000, 21600000}, {86400000, 43200000}, {172800000, 86400000},
	}
	for _, s := range steps {
		if ms <= s.upTo {
			return time.Duration(s.to) * time.Millisecond
		}
	}
	return 7 * 24 * time.Hour
}

// interval is the panel's $__interval (= the query step) for the range.
func (r *renderer) interval(p *jPanel) (step, minStep time.Duration) {
	maxDP := p.MaxDataPoints
	if maxDP == 0 {
		maxDP = p.GridPos.W * screenWidthPx / 24
	}
	minStep = dsScrapeInterval
	if p.Interval != "" {
		d, err := parseGrafanaDuration(p.Interval)
		if err != nil {
			panic(err)
		}
		minStep = d
	}
	rng := r.To.Sub(r.From)
	calc := time.Duration(int64(rng) / int64(maxDP))
	if calc < minStep {
		calc = minStep
	} else {
		calc = roundInterval(calc)
	}
	safe := roundInterval(time.Duration(int64(rng) / safeResolution))
	return max(calc, safe), minStep
}

var varRe = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// interpolate replaces the built-in and dashboard variables in expr.
func (r *renderer) interpolate(expr string, step, minStep time.Duration) string {
	_ = minStep // the panel's min interval bounds the step, not the rate window
	rate := max(step+dsScrapeInterval, 4*dsScrapeInterval)
	builtins := map[string]string{
		"__rate_interval": promDuration(rate),
		"__interval":      promDuration(step),
		"__interval_ms":   fmt.Sprint(step.Milliseconds()),
		"__range":         fmt.Sprintf("%ds", int(r.To.Sub(r.From).Seconds())),
		"__range_s":       fmt.Sprint(int(r.To.Sub(r.From).Seconds())),
		"__range_ms":      fmt.Sprint(r.To.Sub(r.From).Milliseconds()),
		"__auto":          promDuration(step),
	}
	return varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := builtins[name]; ok {
			return v
		}
		if v, ok := r.Vars[name]; ok {
			if v == "$__all" {
				return r.allValue(name)
			}
			return v
		}
		return m // not a variable we know: left for the test to notice
	})
}

func (r *renderer) allValue(name string) string {
	for _, v := range r.dash.Templating.List {
		if v.Name == name && v.AllValue != "" {
			return v.AllValue
		}
	}
	panic("variable " + name + " has no allValue")
}

// promDuration renders a duration the way Grafana writes it into PromQL.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// render returns every query of the dashboard, ready to run.
func (r *renderer) render() []rendered {
	var out []rendered
	panels := r.dash.visualPanels()
	for k := range panels {
		p := &panels[k]
		step, minStep := r.interval(p)
		for _, t := range p.Targets {
			q := rendered{Panel: p, RefID: t.RefID, DSType: t.Datasource.Type, Expr: r.interpolate(t.Expr, step, minStep),
				Instant: t.Instant, Step: step, Limit: t.MaxLines, Unit: p.unitOf(t.RefID)}
			// Grafana's Prometheus backend aligns the range to the step.
			q.Start = time.Unix(int64(math.Floor(float64(r.From.Unix())/step.Seconds())*step.Seconds()), 0).UTC()
			q.End = time.Unix(int64(math.Floor(float64(r.To.Unix())/step.Seconds())*step.Seconds()), 0).UTC()
			if t.Datasource.Type == "loki" {
				q.Start, q.End = r.From, r.To
			}
			out = append(out, q)
		}
	}
	return out
}

func TestRenderMatchesGrafanaIntervals(t *testing.T) {
	d := &jDashboard{Time: TimeRange{From: "now-1h", To: "now"}}
	to := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	r := newRenderer(d, to, nil)
	cases := []struct {
		p        jPanel
		step     time.Duration
		rate     string
		describe string
	}{
		{jPanel{MaxDataPoints: 100}, 30 * time.Second, "1m", "stat: 1h/100 = 36s → 30s; rate max(45s, 60s)"},
		{jPanel{GridPos: GridPos{W: 12}}, 15 * time.Second, "1m", "half-width: 1h/900 = 4s → min 15s"},
		{jPanel{GridPos: GridPos{W: 6}, Interval: "5s"}, 10 * time.Second, "1m", "Istio mesh stat: interval 5s, 1h/450 = 8s → 10s; rate max(25s, 60s)"},
	}
	for _, c := range cases {
		step, minStep := r.interval(&c.p)
		if step != c.step {
			t.Errorf("%s: step %s, want %s", c.describe, step, c.step)
		}
		if got := r.interpolate("$__rate_interval", step, minStep); got != c.rate {
			t.Errorf("%s: $__rate_interval %s, want %s", c.describe, got, c.rate)
		}
	}
	r.Vars = map[string]string{"namespace": "shop", "workload": "api"}
	if got := r.interpolate(`x{a=~"$namespace",b="${workload}",c="[[workload]]"}[$__range]`, time.Minute, dsScrapeInterval); got != `x{a=~"shop",b="api",c="api"}[3600s]` {
		t.Errorf("interpolate: %s", got)
	}
}
