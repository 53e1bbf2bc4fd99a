// Package dashboards builds MeshWatch's Grafana dashboards as typed Go values
// and renders them as classic dashboard JSON (schemaVersion 42, what Grafana
// 12.3+ writes). `go run ./dashboards/gen` writes dashboards/*.json; a golden
// test keeps the committed files equal to what this package generates.
//
// The struct fields are declared in alphabetical JSON order, so the output
// has Grafana's own key order (it sorts keys when it saves a dashboard) and a
// dashboard exported from Grafana diffs cleanly against the generated file.
package dashboards

import (
	"bytes"
	"encoding/json"
)

// SchemaVersion is the classic dashboard schema version Grafana 12.3+ writes
// (the last v1 schema: the v42 migration hides viz-hidden series from
// tooltips, which every hideFrom override here already does).
const SchemaVersion = 42

// PluginVersion is the Grafana version the panels are authored against: the
// plugin's minimum (plugin.json grafanaDependency >=12.3.0).
const PluginVersion = "12.3.0"

// Dashboard is a classic (v1) Grafana dashboard.
type Dashboard struct {
	Annotations          Annotations     `json:"annotations"`
	Description          string          `json:"description"`
	Editable             bool            `json:"editable"`
	FiscalYearStartMonth int             `json:"fiscalYearStartMonth"`
	GraphTooltip         int             `json:"graphTooltip"`
	ID                   *int            `json:"id"`
	Links                []DashboardLink `json:"links"`
	Panels               []any           `json:"panels"` // *Row or *Panel, in layout order
	Refresh              string          `json:"refresh"`
	Revision             int             `json:"revision"`
	SchemaVersion        int             `json:"schemaVersion"`
	Tags                 []string        `json:"tags"`
	Templating           Templating      `json:"templating"`
	Time                 TimeRange       `json:"time"`
	Timepicker           Timepicker      `json:"timepicker"`
	Timezone             string          `json:"timezone"`
	Title                string          `json:"title"`
	UID                  string          `json:"uid"`
	Version              int             `json:"version"`
	WeekStart            string          `json:"weekStart"`
}

// Annotations holds the dashboard's annotation queries.
type Annotations struct {
	List []Annotation `json:"list"`
}

// Annotation is one annotation query (the built-in one, or a Prometheus one).
type Annotation struct {
	BuiltIn     int            `json:"builtIn,omitempty"`
	Datasource  DSRef          `json:"datasource"`
	Enable      bool           `json:"enable"`
	Expr        string         `json:"expr,omitempty"`
	Hide        bool           `json:"hide"`
	IconColor   string         `json:"iconColor"`
	Name        string         `json:"name"`
	Step        string         `json:"step,omitempty"`
	TagKeys     string         `json:"tagKeys,omitempty"`
	Target      map[string]any `json:"target,omitempty"`
	TextFormat  string         `json:"textFormat,omitempty"`
	TitleFormat string         `json:"titleFormat,omitempty"`
	Type        string         `json:"type,omitempty"`
	UseValueFor bool           `json:"useValueForTime,omitempty"`
}

// DSRef points at a datasource, usually through a datasource variable.
type DSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// DashboardLink is an entry of the dashboard's link bar.
type DashboardLink struct {
	AsDropdown  bool     `json:"asDropdown"`
	Icon        string   `json:"icon"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
	Tags        []string `json:"tags"`
	TargetBlank bool     `json:"targetBlank"`
	Title       string   `json:"title"`
	Tooltip     string   `json:"tooltip"`
	Type        string   `json:"type"` // "link" or "dashboards"
	URL         string   `json:"url"`
}

// Row is a (non-collapsed) row header; the panels below it belong to it.
type Row struct {
	Collapsed bool     `json:"collapsed"`
	GridPos   GridPos  `json:"gridPos"`
	ID        int      `json:"id"`
	Panels    []*Panel `json:"panels"`
	Title     string   `json:"title"`
	Type      string   `json:"type"` // "row"
}

// Panel is one visualization.
type Panel struct {
	Datasource      *DSRef           `json:"datasource,omitempty"`
	Description     string           `json:"description"`
	FieldConfig     FieldConfig      `json:"fieldConfig"`
	GridPos         GridPos          `json:"gridPos"`
	ID              int              `json:"id"`
	Interval        string           `json:"interval,omitempty"`
	MaxDataPoints   int              `json:"maxDataPoints,omitempty"`
	Options         map[string]any   `json:"options"`
	PluginVersion   string           `json:"pluginVersion"`
	Targets         []Target         `json:"targets"`
	Title           string           `json:"title"`
	Transformations []Transformation `json:"transformations,omitempty"`
	Type            string           `json:"type"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one query of a panel (Prometheus or Loki).
type Target struct {
	Datasource   DSRef  `json:"datasource"`
	EditorMode   string `json:"editorMode,omitempty"`
	Exemplar     bool   `json:"exemplar,omitempty"`
	Expr         string `json:"expr"`
	Format       string `json:"format,omitempty"`
	Instant      bool   `json:"instant,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
	MaxLines     int    `json:"maxLines,omitempty"`
	QueryType    string `json:"queryType,omitempty"`
	Range        bool   `json:"range,omitempty"`
	RefID        string `json:"refId"`
}

// FieldConfig sets how the panel's fields display.
type FieldConfig struct {
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []Override    `json:"overrides"`
}

// FieldDefaults are the standard field options.
type FieldDefaults struct {
	Color       map[string]any `json:"color,omitempty"`
	Custom      map[string]any `json:"custom,omitempty"`
	Decimals    *int           `json:"decimals,omitempty"`
	DisplayName string         `json:"displayName,omitempty"`
	Links       []DataLink     `json:"links,omitempty"`
	Mappings    []ValueMapping `json:"mappings"`
	Max         *float64       `json:"max,omitempty"`
	Min         *float64       `json:"min,omitempty"`
	NoValue     string         `json:"noValue,omitempty"`
	Thresholds  *Thresholds    `json:"thresholds,omitempty"`
	Unit        string         `json:"unit,omitempty"`
}

// Thresholds colour values; the first step's Value is nil (the base).
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Step is one threshold step.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// ValueMapping maps values to text and colour.
type ValueMapping struct {
	Options map[string]any `json:"options"`
	Type    string         `json:"type"`
}

// DataLink is a link on a field's values.
type DataLink struct {
	TargetBlank bool   `json:"targetBlank"`
	Title       string `json:"title"`
	URL         string `json:"url"`
}

// Override changes field options for the fields a matcher selects.
type Override struct {
	Matcher    Matcher    `json:"matcher"`
	Properties []Property `json:"properties"`
}

// Matcher selects fields (byName, byRegexp, byFrameRefID, ...).
type Matcher struct {
	ID      string `json:"id"`
	Options any    `json:"options"`
}

// Property is one overridden field option.
type Property struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// Transformation is one data transformation.
type Transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}

// Templating holds the dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a dashboard variable (datasource, query, custom, ...).
type Variable struct {
	AllValue    string         `json:"allValue,omitempty"`
	Current     map[string]any `json:"current"`
	Datasource  *DSRef         `json:"datasource,omitempty"`
	Definition  string         `json:"definition,omitempty"`
	Description string         `json:"description,omitempty"`
	Hide        int            `json:"hide"`
	IncludeAll  bool           `json:"includeAll"`
	Label       string         `json:"label"`
	Multi       bool           `json:"multi"`
	Name        string         `json:"name"`
	Options     []any          `json:"options"`
	Query       any            `json:"query"`
	Refresh     int            `json:"refresh"`
	Regex       string         `json:"regex"`
	SkipURLSync bool           `json:"skipUrlSync"`
	Sort        int            `json:"sort"`
	Type        string         `json:"type"`
}

// TimeRange is the default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Timepicker configures the time picker.
type Timepicker struct {
	RefreshIntervals []string `json:"refresh_intervals"`
}

// JSON renders the dashboard as Grafana writes it: two-space indented, keys
// in alphabetical order, no HTML escaping, a trailing newline.
func (d *Dashboard) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
