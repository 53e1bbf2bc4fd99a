package dashboards

import (
	"fmt"
	"strings"
)

// Datasource references: every query goes through a datasource variable, so
// the dashboards work with whatever the user's datasources are called.
var (
	promDS  = DSRef{Type: "prometheus", UID: "${datasource}"}
	lokiDS  = DSRef{Type: "loki", UID: "${loki}"}
	mixedDS = DSRef{Type: "datasource", UID: "-- Mixed --"}
)

// UIDs of the dashboards (stable: plugin.json, alert annotations and links
// refer to them).
const (
	UIDOverview     = "meshwatch-overview"
	UIDWorkload     = "meshwatch-workload"
	UIDCanary       = "meshwatch-canary"
	UIDControlPlane = "meshwatch-control-plane"
)

// SLOs the dashboards colour against; the alert rules use the same numbers.
const (
	// SuccessSLO is the success-rate objective: a 0.5 % error budget, the
	// same gate as Flagger's request-success-rate (thresholdRange.min 99.5).
	SuccessSLO = 0.995
	// LatencySLOms is the P99 latency objective in milliseconds, the same as
	// Flagger's request-duration check (thresholdRange.max 500).
	LatencySLOms = 500
)

func f(v float64) *float64 { return &v }
func i(v int) *int         { return &v }

// builder lays panels out row by row on the 24-column grid.
type builder struct {
	d      *Dashboard
	id     int
	x, y   int
	lineH  int
	inRow  bool
	titles map[string]bool
}

func newBuilder(d *Dashboard) *builder {
	d.SchemaVersion = SchemaVersion
	d.Editable = true
	d.GraphTooltip = 1 // shared crosshair
	d.Timezone = "browser"
	d.Timepicker = Timepicker{RefreshIntervals: []string{"30s", "1m", "5m", "15m", "1h"}}
	d.Version = 1
	d.Annotations.List = append([]Annotation{{
		BuiltIn: 1, Datasource: DSRef{Type: "grafana", UID: "-- Grafana --"}, Enable: true, Hide: true,
		IconColor: "rgba(0, 211, 255, 1)", Name: "Annotations & Alerts", Type: "dashboard",
	}}, d.Annotations.List...)
	return &builder{d: d, titles: map[string]bool{}}
}

// row starts a new row below everything placed so far.
func (b *builder) row(title string) {
	b.newline()
	b.id++
	b.d.Panels = append(b.d.Panels, &Row{GridPos: GridPos{H: 1, W: 24, X: 0, Y: b.y}, ID: b.id, Panels: []*Panel{}, Title: title, Type: "row"})
	b.y++
}

func (b *builder) newline() {
	if b.x > 0 || b.lineH > 0 {
		b.y += b.lineH
	}
	b.x, b.lineH = 0, 0
}

// add places p (w columns by h rows) after the previous panel, wrapping to
// a new line when it does not fit.
func (b *builder) add(w, h int, p *Panel) *Panel {
	if b.x+w > 24 {
		b.newline()
	}
	if b.titles[p.Title] {
		panic("dashboards: duplicate panel title " + p.Title + " in " + b.d.UID)
	}
	b.titles[p.Title] = true
	b.id++
	p.ID = b.id
	p.GridPos = GridPos{H: h, W: w, X: b.x, Y: b.y}
	p.PluginVersion = PluginVersion
	b.x += w
	b.lineH = max(b.lineH, h)
	b.d.Panels = append(b.d.Panels, p)
	return p
}

func (b *builder) done() *Dashboard {
	b.newline()
	return b.d
}

// ---- queries ----

// prom is a Prometheus range query.
func prom(ref, expr, legend string) Target {
	return Target{Datasource: promDS, EditorMode: "code", Expr: oneLine(expr), LegendFormat: legend, Range: true, RefID: ref}
}

// promTable is a Prometheus instant query in table format (one row per series).
func promTable(ref, expr string) Target {
	return Target{Datasource: promDS, EditorMode: "code", Expr: oneLine(expr), Format: "table", Instant: true, RefID: ref}
}

// loki is a Loki log query over the dashboard's time range.
func loki(ref, expr string, maxLines int) Target {
	return Target{Datasource: lokiDS, EditorMode: "code", Expr: oneLine(expr), MaxLines: maxLines, QueryType: "range", RefID: ref}
}

// oneLine folds an indented multi-line query written for readability in Go
// into the single line a panel's editor shows.
func oneLine(q string) string {
	var parts []string
	for _, l := range strings.Split(q, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	s := strings.Join(parts, " ")
	s = strings.ReplaceAll(s, "( ", "(")
	s = strings.ReplaceAll(s, " )", ")")
	return s
}

// ---- panels ----

func basePanel(typ, title, desc string, targets ...Target) *Panel {
	if strings.TrimSpace(desc) == "" {
		panic("dashboards: panel " + title + " has no description")
	}
	ds := &promDS
	if len(targets) > 0 {
		for _, t := range targets[1:] {
			if t.Datasource != targets[0].Datasource {
				ds = &mixedDS
			}
		}
		if ds != &mixedDS {
			d := targets[0].Datasource
			ds = &d
		}
	}
	return &Panel{
		Datasource:  ds,
		Description: oneLine(desc),
		FieldConfig: FieldConfig{Defaults: FieldDefaults{Mappings: []ValueMapping{}}, Overrides: []Override{}},
		Options:     map[string]any{},
		Targets:     targets,
		Title:       title,
		Type:        typ,
	}
}

// thresholds builds absolute thresholds: base colour, then value/colour pairs.
func thresholds(base string, steps ...any) *Thresholds {
	t := &Thresholds{Mode: "absolute", Steps: []Step{{Color: base}}}
	for k := 0; k+1 < len(steps); k += 2 {
		var v float64
		switch x := steps[k].(type) {
		case float64:
			v = x
		case int:
			v = float64(x)
		default:
			panic(fmt.Sprintf("dashboards: threshold value %v", x))
		}
		t.Steps = append(t.Steps, Step{Color: steps[k+1].(string), Value: f(v)})
	}
	return t
}

func stat(title, desc, unit string, targets ...Target) *Panel {
	p := basePanel("stat", title, desc, targets...)
	p.MaxDataPoints = 100 // a sparkline needs no more; keeps the query cheap
	p.FieldConfig.Defaults.Unit = unit
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Thresholds = thresholds("green")
	p.Options = map[string]any{
		"colorMode":              "value",
		"graphMode":              "area",
		"justifyMode":            "auto",
		"orientation":            "auto",
		"percentChangeColorMode": "standard",
		"reduceOptions":          map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
		"showPercentChange":      false,
		"textMode":               "auto",
		"wideLayout":             true,
	}
	return p
}

func timeseries(title, desc, unit string, targets ...Target) *Panel {
	p := basePanel("timeseries", title, desc, targets...)
	p.FieldConfig.Defaults.Unit = unit
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "palette-classic"}
	p.FieldConfig.Defaults.Thresholds = thresholds("green")
	p.FieldConfig.Defaults.Custom = map[string]any{
		"axisBorderShow":    false,
		"axisCenteredZero":  false,
		"axisColorMode":     "text",
		"axisLabel":         "",
		"axisPlacement":     "auto",
		"barAlignment":      0,
		"barWidthFactor":    0.6,
		"drawStyle":         "line",
		"fillOpacity":       10,
		"gradientMode":      "none",
		"hideFrom":          map[string]any{"legend": false, "tooltip": false, "viz": false},
		"insertNulls":       false,
		"lineInterpolation": "linear",
		"lineWidth":         1,
		"pointSize":         4,
		"scaleDistribution": map[string]any{"type": "linear"},
		"showPoints":        "never",
		"spanNulls":         false,
		"stacking":          map[string]any{"group": "A", "mode": "none"},
		"thresholdsStyle":   map[string]any{"mode": "off"},
	}
	p.Options = map[string]any{
		"legend":  map[string]any{"calcs": []string{"lastNotNull", "max"}, "displayMode": "table", "placement": "right", "showLegend": true, "sortBy": "Max", "sortDesc": true},
		"tooltip": map[string]any{"hideZeros": false, "mode": "multi", "sort": "desc"},
	}
	return p
}

// sloLine draws the thresholds as a dashed line (for SLO and limit lines).
func sloLine(p *Panel, t *Thresholds) *Panel {
	p.FieldConfig.Defaults.Thresholds = t
	p.FieldConfig.Defaults.Custom["thresholdsStyle"] = map[string]any{"mode": "dashed"}
	return p
}

func table(title, desc string, targets ...Target) *Panel {
	p := basePanel("table", title, desc, targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Thresholds = thresholds("green")
	p.FieldConfig.Defaults.Custom = map[string]any{
		"align":       "auto",
		"cellOptions": map[string]any{"type": "auto"},
		"filterable":  false,
		"inspect":     false,
	}
	p.Options = map[string]any{
		"cellHeight": "sm",
		"footer":     map[string]any{"countRows": false, "fields": "", "reducer": []string{"sum"}, "show": false},
		"showHeader": true,
	}
	return p
}

func stateTimeline(title, desc string, targets ...Target) *Panel {
	p := basePanel("state-timeline", title, desc, targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Thresholds = thresholds("green")
	p.FieldConfig.Defaults.Custom = map[string]any{
		"fillOpacity": 80,
		"hideFrom":    map[string]any{"legend": false, "tooltip": false, "viz": false},
		"insertNulls": false,
		"lineWidth":   0,
		"spanNulls":   false,
	}
	p.Options = map[string]any{
		"alignValue":  "left",
		"legend":      map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
		"mergeValues": true,
		"rowHeight":   0.9,
		"showValue":   "auto",
		"tooltip":     map[string]any{"hideZeros": false, "mode": "single", "sort": "none"},
	}
	return p
}

func logsPanel(title, desc string, target Target) *Panel {
	p := basePanel("logs", title, desc, target)
	p.Options = map[string]any{
		"dedupStrategy":           "none",
		"enableInfiniteScrolling": false,
		"enableLogDetails":        true,
		"prettifyLogMessage":      false,
		"showCommonLabels":        false,
		"showLabels":              false,
		"showTime":                true,
		"sortOrder":               "Descending",
		"wrapLogMessage":          true,
	}
	return p
}

// ---- field options ----

func override(matcherID string, options any, props ...Property) Override {
	return Override{Matcher: Matcher{ID: matcherID, Options: options}, Properties: props}
}

func prop(id string, v any) Property { return Property{ID: id, Value: v} }

func fixedColor(c string) Property {
	return prop("color", map[string]any{"fixedColor": c, "mode": "fixed"})
}

func (p *Panel) overrides(o ...Override) *Panel {
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, o...)
	return p
}

func (p *Panel) minMax(lo, hi *float64) *Panel {
	p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = lo, hi
	return p
}

// minInterval sets the panel's minimum step (Grafana's "Min interval"):
// fewer evaluations for expensive queries whose windows are that long anyway.
func (p *Panel) minInterval(d string) *Panel {
	p.Interval = d
	return p
}

func (p *Panel) decimals(n int) *Panel {
	p.FieldConfig.Defaults.Decimals = i(n)
	return p
}

func (p *Panel) thresholds(t *Thresholds) *Panel {
	p.FieldConfig.Defaults.Thresholds = t
	return p
}

func (p *Panel) custom(k string, v any) *Panel {
	if p.FieldConfig.Defaults.Custom == nil {
		p.FieldConfig.Defaults.Custom = map[string]any{}
	}
	p.FieldConfig.Defaults.Custom[k] = v
	return p
}

func (p *Panel) option(k string, v any) *Panel {
	p.Options[k] = v
	return p
}

func (p *Panel) transform(id string, opts map[string]any) *Panel {
	p.Transformations = append(p.Transformations, Transformation{ID: id, Options: opts})
	return p
}

func (p *Panel) links(l ...DataLink) *Panel {
	p.FieldConfig.Defaults.Links = append(p.FieldConfig.Defaults.Links, l...)
	return p
}

func (p *Panel) mappings(m ...ValueMapping) *Panel {
	p.FieldConfig.Defaults.Mappings = append(p.FieldConfig.Defaults.Mappings, m...)
	return p
}

// valueMap maps exact values to a display text and colour.
func valueMap(pairs ...[3]string) ValueMapping {
	opts := map[string]any{}
	for k, pr := range pairs {
		opts[pr[0]] = map[string]any{"color": pr[2], "index": k, "text": pr[1]}
	}
	return ValueMapping{Options: opts, Type: "value"}
}

// ---- variables ----

func dsVar(name, label, pluginType, uid, dsName, desc string) Variable {
	return Variable{
		// The provisioned datasource by default (value: its uid; text: its
		// name, as Grafana saves a datasource variable's current value).
		Current:     map[string]any{"selected": true, "text": dsName, "value": uid},
		Description: desc, Label: label, Name: name, Options: []any{},
		Query: pluginType, Refresh: 1, Type: "datasource",
	}
}

// queryVar is a Prometheus query variable (label_values(...) etc.).
func queryVar(name, label, query, desc string, multi bool) Variable {
	v := Variable{
		Current:     map[string]any{},
		Datasource:  &promDS,
		Definition:  query,
		Description: desc,
		Label:       label,
		Multi:       multi,
		Name:        name,
		Options:     []any{},
		Query:       map[string]any{"qryType": 5, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
		Refresh:     2, // on time range change
		Sort:        1,
		Type:        "query",
	}
	if multi {
		v.IncludeAll, v.AllValue = true, ".*"
		v.Current = map[string]any{"text": []string{"All"}, "value": []string{"$__all"}}
	}
	return v
}

// ---- links ----

// dashLinks links every other MeshWatch dashboard, carrying the variables
// (datasource, loki, tempo, namespace, workload ...) and the time range.
func dashLinks(self string) []DashboardLink {
	all := []struct{ uid, title, tip string }{
		{UIDOverview, "Mesh overview", "All workloads: golden signals, mTLS, canaries, proxies, logs"},
		{UIDWorkload, "Workload", "One workload: inbound and outbound traffic, pods, logs and traces"},
		{UIDCanary, "Canary", "One Flagger canary's progression"},
		{UIDControlPlane, "Sidecars & control plane", "Envoy sidecars (memory, leaks, restarts) and istiod (xDS)"},
	}
	var out []DashboardLink
	for _, l := range all {
		if l.uid == self {
			continue
		}
		out = append(out, DashboardLink{
			Icon: "dashboard", IncludeVars: true, KeepTime: true, Tags: []string{}, Title: l.title,
			Tooltip: l.tip, Type: "link", URL: "/d/" + l.uid,
		})
	}
	return out
}

// workloadLink is a data link from a row or series to the workload dashboard.
func workloadLink(nsField, wlField string) DataLink {
	return DataLink{
		Title: "Open workload ${__data.fields." + wlField + "}",
		URL: "/d/" + UIDWorkload + "?${datasource:queryparam}&${loki:queryparam}&${tempo:queryparam}" +
			"&var-namespace=${__data.fields." + nsField + "}&var-workload=${__data.fields." + wlField + "}&${__url_time_range}",
	}
}

// tempoTraceLink opens a trace id in Explore with the Tempo datasource.
func tempoTraceLink(field string) DataLink {
	return DataLink{
		TargetBlank: true,
		Title:       "Open trace in Tempo",
		URL: `/explore?schemaVersion=1&orgId=${__org}&panes={"trace":{"datasource":"${tempo}","queries":[{"refId":"A",` +
			`"datasource":{"type":"tempo","uid":"${tempo}"},"queryType":"traceql","query":"${__data.fields.` + field + `}"}],` +
			`"range":{"from":"${__from}","to":"${__to}"}}}`,
	}
}
