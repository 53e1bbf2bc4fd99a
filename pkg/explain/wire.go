package explain

// The JSON of the "Explain this panel" routes and of the "explain" frame
// streamed on explain/<id>. Only types and constants live here, for the
// TypeScript wire types (src/api/wire/explain.ts, mage generate) to be
// generated from this one file.

import "time"

// The routes (under /api/plugins/<plugin id>/resources) and the prefix of
// the Live channels (plugin/<plugin id>/explain/<id>).
const (
	RouteExplain = "/explain"
	RouteData    = "/explain/data"
	StreamPrefix = "explain"
)

// MaxBody caps a request's body in bytes (a larger one is refused with
// 413): the frontend sends summaries, never raw points.
const MaxBody = 64 << 10

// Datasource types a panel's query may use.
const (
	DatasourcePrometheus = "prometheus"
	DatasourceLoki       = "loki"
)

// Request is what the panel's menu link sends: the panel, its queries
// (variables resolved), the time range and a compact summary per series.
type Request struct {
	Panel     Panel     `json:"panel"`
	Dashboard Dashboard `json:"dashboard"`
	Queries   []Query   `json:"queries"`
	TimeRange TimeRange `json:"timeRange"`
	Series    []Series  `json:"series"`
	// OmittedSeries counts the series the frontend's budget left out.
	OmittedSeries int `json:"omittedSeries,omitempty"`
}

// Panel is what the dashboard says of the panel.
type Panel struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Type is the panel plugin's id ("timeseries", "stat", ...).
	Type string `json:"type"`
}

// Dashboard is the panel's dashboard.
type Dashboard struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
}

// Query is one of the panel's targets, its variables resolved.
type Query struct {
	RefID      string        `json:"refId"`
	Datasource DatasourceRef `json:"datasource"`
	Expr       string        `json:"expr"`
}

// DatasourceRef names a Grafana datasource: its type (DatasourcePrometheus
// or DatasourceLoki) and uid.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// TimeRange is the panel's time range.
type TimeRange struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Series is one series' summary as the frontend computed it from the
// panel's data.
type Series struct {
	// ID ("s1", "s2", ...) is what the model cites.
	ID     string            `json:"id"`
	RefID  string            `json:"refId"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Unit   string            `json:"unit,omitempty"`
	// Points is how many (non-null) points the summary was made of.
	Points       int           `json:"points"`
	Min          float64       `json:"min"`
	Max          float64       `json:"max"`
	Mean         float64       `json:"mean"`
	Last         float64       `json:"last"`
	First        float64       `json:"first"`
	Trend        Trend         `json:"trend"`
	ChangePoints []ChangePoint `json:"changePoints,omitempty"`
	Gaps         []Gap         `json:"gaps,omitempty"`
}

// Trend directions.
const (
	DirectionRising  = "rising"
	DirectionFalling = "falling"
	DirectionFlat    = "flat"
)

// Trend is a series' linear trend.
type Trend struct {
	SlopePerHour float64 `json:"slopePerHour"`
	// Direction is DirectionRising, DirectionFalling or DirectionFlat.
	Direction string `json:"direction" tstype:"Direction"`
}

// ChangePoint is where a series' level changed: the means before and after.
type ChangePoint struct {
	At     time.Time `json:"at"`
	Before float64   `json:"before"`
	After  float64   `json:"after"`
}

// Gap is a stretch without points.
type Gap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Accepted is the answer to POST explain (202): the job's id, the Live
// channel to follow (relative to the plugin's namespace: "explain/<id>"),
// and why there is no model when there is none (the stream then says
// StatusUnavailable with the same reason).
type Accepted struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// Unavailable is empty when an LLM is configured.
	Unavailable string `json:"unavailable"`
}

// DataRequest is POST explain/data: re-run the panel's targets when Grafana
// gave the link no data.
type DataRequest struct {
	Queries   []Query   `json:"queries"`
	TimeRange TimeRange `json:"timeRange"`
	// MaxDataPoints bounds the points per series (the step is chosen from
	// it; 0: DefaultMaxDataPoints).
	MaxDataPoints int `json:"maxDataPoints"`
}

// DataResponse is the answer to POST explain/data: the series of every
// target that ran, and an error per target that did not.
type DataResponse struct {
	Frames []DataFrame   `json:"frames"`
	Errors []TargetError `json:"errors"`
}

// DataFrame is one series: times in Unix milliseconds and the values at
// them (null where the value is not a finite number).
type DataFrame struct {
	RefID  string            `json:"refId"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Times  []int64           `json:"times"`
	Values []*float64        `json:"values" tstype:"Array<number | null>"`
}

// TargetError says why one target gave no data.
type TargetError struct {
	RefID string `json:"refId"`
	Error string `json:"error"`
}

// Status of an explanation, as the stream says it.
type Status string

const (
	// StatusQueued: waiting for the model; Position says how many are ahead.
	StatusQueued Status = "queued"
	// StatusStreaming: the model is writing; Text is what it wrote so far.
	StatusStreaming Status = "streaming"
	// StatusDone: Answer holds the guarded answer.
	StatusDone Status = "done"
	// StatusFailed: no usable answer; Reason says why.
	StatusFailed Status = "failed"
	// StatusUnavailable: no LLM is configured or reachable; Reason says why
	// (the modal shows its deterministic summary alone).
	StatusUnavailable Status = "unavailable"
)

// Frame names: the frame streamed on explain/<id> is named FrameName and
// has one string field, FieldResponse, holding the State as JSON.
const (
	FrameName     = "explain"
	FieldResponse = "response"
)

// State is an explanation's progress and result.
type State struct {
	Status Status `json:"status"`
	// Position is the number of jobs ahead in the model's queue while
	// queued.
	Position int `json:"position"`
	// Text is the model's raw text so far while streaming.
	Text string `json:"text"`
	// Answer is set when Status is done.
	Answer *Answer `json:"answer,omitempty"`
	// Reason says, in words for the user, why Status is failed or
	// unavailable.
	Reason string `json:"reason"`
	Model  string `json:"model"`
}

// Answer is the model's explanation, as its JSON schema constrains it,
// with the guard's marks.
type Answer struct {
	// Shows is what the panel shows, in a sentence or two.
	Shows       string      `json:"shows"`
	Notable     []Point     `json:"notable"`
	Causes      []Point     `json:"causes"`
	NextQueries []NextQuery `json:"nextQueries"`
}

// Point is one notable thing or likely cause, citing series ids.
type Point struct {
	Text   string   `json:"text"`
	Series []string `json:"series"`
	// Uncited (the guard's mark): the point cites no series id the
	// request holds.
	Uncited bool `json:"uncited"`
}

// NextQuery is a query the model suggests running next.
type NextQuery struct {
	// Datasource is DatasourcePrometheus or DatasourceLoki.
	Datasource string `json:"datasource" tstype:"Datasource"`
	Expr       string `json:"expr"`
	Why        string `json:"why"`
	// Valid (the guard's mark): the query parses; only then is it a link.
	// Error is why not.
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
}
