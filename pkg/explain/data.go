package explain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

// Bounds of explain/data: DefaultMaxDataPoints when the request gives
// none, at most MaxDataPoints per series, at most MaxFrames series per
// target (the rest are counted in a per-target error).
const (
	DefaultMaxDataPoints = 300
	MaxDataPoints        = 1500
	MaxFrames            = 100
)

// Sources are what explain/data reads: the configured Prometheus and Loki
// (nil with the reason beside), and their endpoints.
type Sources struct {
	Prometheus         *prometheus.Client
	PrometheusErr      error
	PrometheusEndpoint settings.Endpoint
	Loki               *loki.Client
	LokiErr            error
	LokiEndpoint       settings.Endpoint
}

// SourcesOf are the instance's sources.
func SourcesOf(cfg settings.Settings, sys *systems.Set) Sources {
	return Sources{Prometheus: sys.Prometheus, PrometheusErr: sys.PrometheusErr, PrometheusEndpoint: cfg.Prometheus,
		Loki: sys.Loki, LokiErr: sys.LokiErr, LokiEndpoint: cfg.Loki}
}

// ownDatasource says why a target of datasource uid is not re-run, or nil
// when uid is empty or the configured one. Other datasources are refused:
// their queries would run with the plugin's credentials, not the user's,
// around Grafana's datasource permissions (a Viewer could read a
// datasource they may not query). Grafana hands the panel's data with the
// menu click, so a re-run is only needed for a panel that has not loaded.
func ownDatasource(name, section string, configured settings.Endpoint, uid string) error {
	if uid == "" || uid == configured.DatasourceUID {
		return nil
	}
	return fmt.Errorf("datasource %s is not the %s MeshWatch reads (%s): MeshWatch re-runs only its own datasources' queries, since another's would run with the plugin's credentials instead of yours; let the panel load its data, then explain it",
		uid, name, section)
}

// data is POST explain/data: the panel's targets run again over the time
// range, as series of at most maxDataPoints points; a target that cannot
// run gets an error of its own.
func (s *Service) data(w http.ResponseWriter, r *http.Request) {
	var req DataRequest
	if !httpjson.Decode(w, r, MaxBody, &req) {
		return
	}
	switch {
	case len(req.Queries) == 0:
		httpjson.Error(w, http.StatusBadRequest, "invalid data request", "there are no queries to run")
		return
	case len(req.Queries) > MaxQueries:
		httpjson.Error(w, http.StatusBadRequest, "invalid data request", fmt.Sprintf("%d queries: at most %d", len(req.Queries), MaxQueries))
		return
	case req.TimeRange.From.IsZero() || req.TimeRange.To.IsZero() || !req.TimeRange.From.Before(req.TimeRange.To):
		httpjson.Error(w, http.StatusBadRequest, "invalid data request", "timeRange: from and to must be RFC 3339 times, from before to")
		return
	case req.MaxDataPoints < 0:
		httpjson.Error(w, http.StatusBadRequest, "invalid data request", "maxDataPoints is negative")
		return
	}
	httpjson.Write(w, http.StatusOK, s.o.Sources.Run(r.Context(), req))
}

// Step is the query step for a time range and a number of points: the
// range over the points, rounded up to a whole second, at least 1 s.
func Step(tr TimeRange, maxDataPoints int) time.Duration {
	if maxDataPoints <= 0 {
		maxDataPoints = DefaultMaxDataPoints
	}
	maxDataPoints = min(maxDataPoints, MaxDataPoints)
	step := tr.To.Sub(tr.From) / time.Duration(maxDataPoints)
	return max(time.Second, ((step+time.Second-1)/time.Second)*time.Second)
}

// Run runs the request's targets one after another.
func (src Sources) Run(ctx context.Context, req DataRequest) DataResponse {
	out := DataResponse{Frames: []DataFrame{}, Errors: []TargetError{}}
	step := Step(req.TimeRange, req.MaxDataPoints)
	for _, q := range req.Queries {
		var frames []DataFrame
		var err error
		switch {
		case q.Expr == "":
			err = errors.New("the query is empty")
		case q.Datasource.Type == DatasourcePrometheus:
			frames, err = src.prometheus(ctx, q, req.TimeRange, step)
		case q.Datasource.Type == DatasourceLoki:
			frames, err = src.loki(ctx, q, req.TimeRange, step)
		default:
			err = fmt.Errorf("datasource type %q is not supported: Explain reads Prometheus and Loki panels", q.Datasource.Type)
		}
		if len(frames) > MaxFrames {
			out.Errors = append(out.Errors, TargetError{RefID: q.RefID, Error: fmt.Sprintf("%d series; the first %d are shown", len(frames), MaxFrames)})
			frames = frames[:MaxFrames]
		}
		out.Frames = append(out.Frames, frames...)
		if err != nil {
			out.Errors = append(out.Errors, TargetError{RefID: q.RefID, Error: err.Error()})
		}
	}
	return out
}

func (src Sources) prometheus(ctx context.Context, q Query, tr TimeRange, step time.Duration) ([]DataFrame, error) {
	if src.Prometheus == nil {
		return nil, fmt.Errorf("Prometheus is not configured: %v", src.PrometheusErr)
	}
	if err := ownDatasource("Prometheus", "prometheus", src.PrometheusEndpoint, q.Datasource.UID); err != nil {
		return nil, err
	}
	c := src.Prometheus
	v, _, err := c.API().QueryRange(ctx, q.Expr, v1.Range{Start: tr.From, End: tr.To, Step: step})
	if err != nil {
		return nil, c.Explain("/api/v1/query_range", err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("Prometheus answered a %s, not a range of series", v.Type())
	}
	frames := make([]DataFrame, 0, len(m))
	for _, ss := range m {
		f := DataFrame{RefID: q.RefID, Name: ss.Metric.String(), Labels: map[string]string{},
			Times: make([]int64, len(ss.Values)), Values: make([]*float64, len(ss.Values))}
		for k, v := range ss.Metric {
			f.Labels[string(k)] = string(v)
		}
		for i, p := range ss.Values {
			f.Times[i] = int64(p.Timestamp)
			f.Values[i] = finite(float64(p.Value))
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// lokiMatrix is Loki's query_range answer to a metric query.
type lokiMatrix struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// loki runs a LogQL metric query over the range (Loki's query_range,
// resultType matrix, through the configured client's transport); a log
// query is an error (Explain reads numbers, not lines).
func (src Sources) loki(ctx context.Context, q Query, tr TimeRange, step time.Duration) ([]DataFrame, error) {
	if src.Loki == nil {
		return nil, fmt.Errorf("Loki is not configured: %v", src.LokiErr)
	}
	if err := ownDatasource("Loki", "loki", src.LokiEndpoint, q.Datasource.UID); err != nil {
		return nil, err
	}
	c := src.Loki
	v := url.Values{"query": {q.Expr}, "start": {strconv.FormatInt(tr.From.UnixNano(), 10)},
		"end": {strconv.FormatInt(tr.To.UnixNano(), 10)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	var ans lokiMatrix
	if err := c.Up.GetJSON(ctx, loki.PathQueryRange, v, &ans); err != nil {
		return nil, err
	}
	if ans.Data.ResultType == "streams" {
		return nil, errors.New("a log query: Explain summarizes metric queries only (count_over_time, rate, …)")
	}
	if ans.Status != "success" || ans.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("Loki answered status %q, resultType %q: not a metric query's range", ans.Status, ans.Data.ResultType)
	}
	frames := make([]DataFrame, 0, len(ans.Data.Result))
	for _, r := range ans.Data.Result {
		f := DataFrame{RefID: q.RefID, Name: labelString(r.Metric), Labels: r.Metric,
			Times: make([]int64, 0, len(r.Values)), Values: make([]*float64, 0, len(r.Values))}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		for _, p := range r.Values {
			ts, ok1 := p[0].(float64)
			sv, ok2 := p[1].(string)
			if !ok1 || !ok2 {
				return nil, errors.New("Loki's answer holds a point that is not [time, \"value\"]")
			}
			val, err := strconv.ParseFloat(sv, 64)
			if err != nil {
				return nil, fmt.Errorf("Loki's answer holds the value %q: %w", sv, err)
			}
			f.Times = append(f.Times, int64(math.Round(ts*1000)))
			f.Values = append(f.Values, finite(val))
		}
		frames = append(frames, f)
	}
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].Name < frames[j].Name })
	return frames, nil
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}
