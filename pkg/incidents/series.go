package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// RouteSeries answers the points of an incident's evidence series (GET
// RouteIncidents/{id}/series?ids=<evidence id>,…), for the detail page's
// charts: SeriesResponse.
const RouteSeries = RouteIncidents + "/{id}/series"

// SeriesFunc reads the points of the metrics with these evidence ids of a
// capture's pack (its JSON, as the store keeps it) and returns one frame
// per series. A bad id is an error wrapping evidence.ErrUnknownEvidence.
type SeriesFunc func(ctx context.Context, pack json.RawMessage, ids []string) ([]*data.Frame, error)

// SeriesResponse is the answer to GET RouteSeries: one data frame per id
// (the frame's name is the id), in the order asked, each with a time field
// and a value field whose labels say what the series is about. A frame's
// meta carries the PromQL the capture ran (executedQueryString) and, in
// custom, the series' window (from), the baseline's start, the change point
// and the limit, when the pack has them.
type SeriesResponse struct {
	Frames []*data.Frame `json:"frames"`
}

// SeriesMeta is a series frame's meta.custom.
type SeriesMeta struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	Unit   string  `json:"unit,omitempty"`
	Start  int64   `json:"start"`            // the baseline's start, ms since the epoch
	From   int64   `json:"from"`             // the window's start
	To     int64   `json:"to"`               // the window's end
	Change int64   `json:"change,omitempty"` // the change point, when there is one
	Limit  float64 `json:"limit,omitempty"`  // the limit, when known
}

// SeriesFrom is the SeriesFunc over a Prometheus: evidence.Series, the
// capture's very queries over its range, made into frames (SeriesFrames).
func SeriesFrom(prom v1.API) SeriesFunc {
	return func(ctx context.Context, pack json.RawMessage, ids []string) ([]*data.Frame, error) {
		var p evidence.Pack
		if err := json.Unmarshal(pack, &p); err != nil {
			return nil, fmt.Errorf("the stored evidence pack cannot be read: %w", err)
		}
		got, err := evidence.Series(ctx, prom, p, ids)
		if err != nil {
			return nil, err
		}
		return SeriesFrames(got, p.Window), nil
	}
}

// SeriesFrames makes each series a frame named by its evidence id: a time
// field and a value field, labelled with what the series is about.
func SeriesFrames(series []evidence.SeriesData, w evidence.Window) []*data.Frame {
	out := make([]*data.Frame, 0, len(series))
	for _, s := range series {
		m := s.Metric
		ts := make([]time.Time, len(s.Points))
		vs := make([]float64, len(s.Points))
		for i, pt := range s.Points {
			ts[i], vs[i] = pt.T.UTC(), pt.V
		}
		labels := data.Labels{"namespace": m.Namespace, "workload": m.Workload}
		if m.Peer != "" {
			labels["peer"] = m.Peer
		}
		if m.Container != "" {
			labels["container"] = m.Container
		}
		for k, v := range m.Detail {
			labels[k] = v
		}
		value := data.NewField("value", labels, vs)
		value.Config = &data.FieldConfig{DisplayNameFromDS: SeriesTitle(m)}
		f := data.NewFrame(m.ID, data.NewField("time", nil, ts), value)
		meta := SeriesMeta{ID: m.ID, Kind: string(m.Kind), Unit: m.Unit, Start: s.Start.UnixMilli(),
			From: w.From.UnixMilli(), To: w.To.UnixMilli()}
		if m.ChangeAt != nil {
			meta.Change = m.ChangeAt.UnixMilli()
		}
		if m.Limit != nil {
			meta.Limit = *m.Limit
		}
		f.Meta = &data.FrameMeta{ExecutedQueryString: s.Query, Custom: meta}
		out = append(out, f)
	}
	return out
}

// SeriesTitle names a series for a chart's legend: "shop/api → inventory
// 504 UT".
func SeriesTitle(m evidence.Metric) string {
	t := m.Namespace + "/" + m.Workload
	if m.Peer != "" {
		t += " → " + m.Peer
	}
	if m.Container != "" {
		t += " (" + m.Container + ")"
	}
	if c := m.Detail["code"]; c != "" {
		t += " " + c
		if f := m.Detail["flags"]; f != "" && f != "-" {
			t += " " + f
		}
	}
	if ty := m.Detail["type"]; ty != "" {
		t += " " + ty
	}
	return t
}

// series answers GET RouteSeries: 400 for missing or unknown ids, 404 for
// an unknown incident or one with no capture yet, 503 without a
// Prometheus, 502 when Prometheus fails.
func (s *Service) series(w http.ResponseWriter, r *http.Request) {
	if s.storeUnavailable(w) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		httpjson.Error(w, http.StatusBadRequest, "invalid incident id", "an incident id is a positive integer")
		return
	}
	var ids []string
	for _, v := range r.URL.Query()["ids"] {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				ids = append(ids, x)
			}
		}
	}
	if len(ids) == 0 {
		httpjson.Error(w, http.StatusBadRequest, "no evidence ids", "ids lists the evidence ids of the series (comma-separated)")
		return
	}
	if len(ids) > evidence.MaxSeriesIDs {
		httpjson.Error(w, http.StatusBadRequest, "too many evidence ids", fmt.Sprintf("at most %d at once", evidence.MaxSeriesIDs))
		return
	}
	if s.opts.Series == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the evidence series cannot be read", "no Prometheus is configured")
		return
	}
	ev, err := s.store.Evidence(r.Context(), id)
	switch {
	case errors.Is(err, incident.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "no evidence", fmt.Sprintf("incident %d has no evidence capture (yet)", id))
		return
	case err != nil:
		httpjson.Error(w, http.StatusServiceUnavailable, "the incident's evidence could not be read", err.Error())
		return
	}
	frames, err := s.opts.Series(r.Context(), ev.Pack, ids)
	switch {
	case errors.Is(err, evidence.ErrUnknownEvidence):
		httpjson.Error(w, http.StatusBadRequest, "unknown evidence id", err.Error())
	case err != nil:
		httpjson.Error(w, http.StatusBadGateway, "Prometheus did not answer the evidence queries", err.Error())
	default:
		httpjson.Write(w, http.StatusOK, SeriesResponse{Frames: frames})
	}
}
