package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Simulate runs a scenario from start to end, recording every tick for
// WriteOpenMetrics. It is a pure function of its options.
func Simulate(ctx context.Context, o Options) (*Engine, error) {
	e, err := NewEngine(o)
	if err != nil {
		return nil, err
	}
	every := int64(e.opts.Resolution / e.opts.Step)
	for e.now.Before(e.opts.End) {
		if e.tick%240 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e.record = (int64(e.tick)+1)%every == 0
		e.Step()
	}
	e.record = false
	return e, nil
}

// WriteOpenMetrics writes the recorded history as OpenMetrics text for
// `promtool tsdb create-blocks-from openmetrics` (timestamps in seconds,
// ending with # EOF).
func (e *Engine) WriteOpenMetrics(w io.Writer) error {
	return e.reg.writeOpenMetrics(w, e.opts.Start.Unix(), int64(e.dt))
}

// WriteMetricsText writes the current values in the Prometheus text format.
func (e *Engine) WriteMetricsText(w io.Writer) error { return e.reg.writeText(w) }

// SeriesCount returns how many series and samples were recorded.
func (e *Engine) SeriesCount() (series, samples int) { return e.reg.seriesCount() }

// BackfillResult tells what Backfill wrote.
type BackfillResult struct {
	Dir      string      `json:"dir"`
	Series   int         `json:"series"`
	Samples  int         `json:"samples"`
	LogLines int         `json:"logLines"`
	Traces   int         `json:"traces"`
	Objects  int         `json:"objects"`
	Truth    GroundTruth `json:"truth"`
	Logs     []LogEntry  `json:"-"`
}

// Backfill simulates the whole run and writes under dir: metrics.om
// (OpenMetrics), logs.jsonl, traces/ (Tempo API answers), k8s/*.yaml (the
// end state's objects) and truth.json.
func Backfill(ctx context.Context, o Options, dir string) (*BackfillResult, error) {
	e, err := Simulate(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res := &BackfillResult{Dir: dir, Truth: e.Truth()}
	res.Series, res.Samples = e.SeriesCount()
	if err := writeFile(filepath.Join(dir, "metrics.om"), e.WriteOpenMetrics); err != nil {
		return nil, err
	}
	res.Logs = e.DrainLogs()
	res.LogLines = len(res.Logs)
	if err := writeFile(filepath.Join(dir, "logs.jsonl"), func(w io.Writer) error { return WriteLogsJSONL(w, res.Logs) }); err != nil {
		return nil, err
	}
	if err := e.WriteTempoFiles(filepath.Join(dir, "traces")); err != nil {
		return nil, err
	}
	res.Traces = len(e.traces.all())
	objs := e.Objects()
	res.Objects = len(objs)
	if err := WriteObjectFiles(filepath.Join(dir, "k8s"), objs); err != nil {
		return nil, err
	}
	if err := writeJSONFile(filepath.Join(dir, "truth.json"), res.Truth); err != nil {
		return nil, err
	}
	return res, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Live runs a scenario in real time: Prometheus scrapes ServeHTTP's
// /metrics, and each tick's log lines go to Loki as they happen.
type Live struct {
	mu     sync.Mutex
	e      *Engine
	Pusher *LokiPusher // nil: logs are dropped
	// Errors receives push failures (non-blocking); nil: they are ignored.
	Errors chan error
}

// NewLive starts a run at o.Start (zero: now) lasting o.Duration; past
// its end the simulation goes on with the effects in force.
func NewLive(o Options) (*Live, error) {
	if o.Start.IsZero() {
		step := o.Step
		if step == 0 {
			step = DefaultStep
		}
		o.Start = time.Now().UTC().Truncate(step)
	}
	o.End = time.Time{}
	e, err := NewEngine(o)
	if err != nil {
		return nil, err
	}
	return &Live{e: e}, nil
}

// NewLiveWithHistory simulates the planned run up to its end (o.End, zero:
// now), recording it for WriteOpenMetrics like Simulate, and returns a Live
// that continues the same run in real time from there: the backfilled
// history and the scraped samples are one continuous series, with the
// scenario's fault in force at the end. The history's log lines are pushed
// by the first Advance.
func NewLiveWithHistory(ctx context.Context, o Options) (*Live, error) {
	if o.End.IsZero() {
		o.End = time.Now().UTC()
	}
	e, err := Simulate(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Live{e: e}, nil
}

// WriteHistory writes the recorded history (NewLiveWithHistory) to path as
// OpenMetrics for promtool; call it before Run.
func (l *Live) WriteHistory(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return writeFile(path, l.e.WriteOpenMetrics)
}

// Engine gives access to the running engine (lock-free: only between Runs).
func (l *Live) Engine() *Engine { return l.e }

// Advance steps the simulation up to now and pushes the new log lines.
func (l *Live) Advance(ctx context.Context, now time.Time) error {
	l.mu.Lock()
	for !l.e.now.Add(l.e.stepDur).After(now) {
		l.e.Step()
	}
	logs := l.e.DrainLogs()
	l.mu.Unlock()
	if l.Pusher == nil || len(logs) == 0 {
		return nil
	}
	return l.Pusher.Push(ctx, logs)
}

// Run advances the simulation with the wall clock until ctx ends.
func (l *Live) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := l.Advance(ctx, time.Now()); err != nil && l.Errors != nil {
			select {
			case l.Errors <- err:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ServeHTTP serves GET /metrics (Prometheus text format 0.0.4), /truth
// (the ground truth so far), /k8s (the objects now, JSON), /healthz, and
// the load tester's gates (/gate/*, /rollback/*, see loadtester.go).
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.serveGate(w, r) {
		return
	}
	switch r.URL.Path {
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.e.WriteMetricsText(w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case "/truth":
		l.mu.Lock()
		gt := l.e.Truth()
		l.mu.Unlock()
		writeJSON(w, gt)
	case "/k8s":
		l.mu.Lock()
		objs := l.e.Objects()
		l.mu.Unlock()
		writeJSON(w, objs)
	case "/healthz", "/-/healthy":
		fmt.Fprintln(w, "ok")
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
