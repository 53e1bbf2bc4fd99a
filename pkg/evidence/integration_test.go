package evidence_test

// Captures on real Prometheus and Loki (pkg/devkit/harness) fed by the
// simulated mesh under fault scenarios, with the Tempo contract fake
// answering from the same run's trace files. They skip when the binaries
// are missing, and fail under CI=true. Run them with
//
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/evidence/ -run Integration -v
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/evidence/ -run '^$' -bench Collect -benchtime 40x

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/signals"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

const rulesFile = "../../deploy/base/monitoring/rules/mesh-alerts.yaml"

// The scenarios captured, each run for an hour, ending runGap apart
// (oldest first) so one Prometheus and one Loki hold them all.
var scenarioNames = []string{"sidecar-memory-leak", "timeout-cascade", "canary-5xx-regression", "plaintext-under-strict", "app-oomkill", "healthy"}

const (
	runDuration = time.Hour
	runGap      = 70 * time.Minute
)

type run struct {
	name  string
	end   time.Time
	truth simulator.GroundTruth
	tempo string // the contract fake's URL
}

type world struct {
	prom, loki string
	blocks     string // the scenarios' TSDB blocks (thanos_integration_test.go starts HA replicas on them)
	runs       map[string]*run
	err        error
}

var (
	worldOnce sync.Once
	shared    world
	session   *harness.Session
)

func TestMain(m *testing.M) {
	code := m.Run()
	if session != nil {
		_ = session.Close()
	}
	os.Exit(code)
}

// getWorld simulates the scenarios, backfills their metrics into one real
// Prometheus (with MeshWatch's rule file, so /api/v1/rules has the rules),
// pushes their logs into one real Loki, and serves their traces from a
// Tempo contract fake each. Built once per test binary.
func getWorld(tb testing.TB) *world {
	tb.Helper()
	harness.RequireBinary(tb, harness.BinPromtool)
	harness.RequireBinary(tb, harness.BinPrometheus)
	harness.RequireBinary(tb, harness.BinLoki)
	worldOnce.Do(func() {
		began := time.Now()
		s, err := harness.NewSession(nil)
		if err != nil {
			shared.err = err
			return
		}
		session = s
		shared.runs = map[string]*run{}
		now := time.Now().UTC().Truncate(time.Minute)
		shared.err = s.Do(func(t harness.T) {
			blocks := filepath.Join(t.TempDir(), "blocks")
			if err := os.MkdirAll(blocks, 0o755); err != nil {
				t.Fatal(err)
			}
			var logs []simulator.LogEntry
			for i, name := range scenarioNames {
				sc, err := simulator.LookupScenario(name)
				if err != nil {
					t.Fatal(err)
				}
				end := now.Add(-time.Duration(len(scenarioNames)-i) * runGap)
				e, err := simulator.Simulate(context.Background(), simulator.Options{Scenario: sc, Seed: 7, End: end,
					Duration: runDuration, Resolution: 30 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				om := filepath.Join(t.TempDir(), name+".om")
				f, err := os.Create(om)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.WriteOpenMetrics(f); err != nil {
					t.Fatal(err)
				}
				f.Close()
				out := harness.Backfill(t, om)
				ents, _ := os.ReadDir(out)
				for _, b := range ents {
					if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(blocks, b.Name())); err != nil {
						t.Fatal(err)
					}
				}
				dir := filepath.Join(t.TempDir(), "tempo")
				if err := e.WriteTempoFiles(dir); err != nil {
					t.Fatal(err)
				}
				logs = append(logs, e.DrainLogs()...)
				shared.runs[name] = &run{name: name, end: end, truth: e.Truth(),
					tempo: contractfake.TempoWithTraces(t, "2.8.2", dir).URL}
			}
			p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: blocks, RuleFiles: []string{rulesFile}})
			l := harness.StartLoki(t)
			if err := (&simulator.LokiPusher{URL: l.URL}).Push(context.Background(), logs); err != nil {
				t.Fatal(err)
			}
			shared.prom, shared.loki, shared.blocks = p.URL, l.URL, blocks
		})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "evidence: world of %d scenarios ready in %s\n", len(scenarioNames), time.Since(began).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		tb.Fatalf("world: %v", shared.err)
	}
	return &shared
}

func (w *world) sources(tb testing.TB, r *run) evidence.Sources {
	tb.Helper()
	p, err := prometheus.New(settings.Endpoint{URL: w.prom, TimeoutSeconds: 10})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := loki.New(settings.Endpoint{URL: w.loki, TimeoutSeconds: 10})
	if err != nil {
		tb.Fatal(err)
	}
	tc, err := tempo.New(settings.Endpoint{URL: r.tempo, TimeoutSeconds: 10})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(); l.Close(); tc.Close() })
	return evidence.Sources{Prometheus: p.API(), Loki: l, Tempo: tc}
}

// firstTrue is the first evaluation in the run where expr has a result.
func (w *world) firstTrue(tb testing.TB, r *run, expr string) time.Time {
	tb.Helper()
	p, err := prometheus.New(settings.Endpoint{URL: w.prom, TimeoutSeconds: 10})
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Close()
	v, _, err := p.API().QueryRange(context.Background(), expr, v1Range(r.end.Add(-runDuration), r.end))
	if err != nil {
		tb.Fatal(err)
	}
	var first time.Time
	for _, s := range v.(model.Matrix) {
		if len(s.Values) > 0 && (first.IsZero() || s.Values[0].Timestamp.Time().Before(first)) {
			first = s.Values[0].Timestamp.Time()
		}
	}
	if first.IsZero() {
		tb.Fatalf("%s: never true in %s", expr, r.name)
	}
	return first.UTC()
}

// alertOf is an alert of MeshWatch's rule for a signal about the workload
// (the test may know MeshWatch's rules; the evidence package does not).
func alertOf(id signals.ID, ns, wl string, startsAt time.Time) incident.Alert {
	r := signals.Get(id).Rule
	labels := map[string]string{"alertname": r.Alert, "severity": r.Severity, "namespace": ns, "workload": wl}
	return incident.Alert{Labels: labels, StartsAt: startsAt, Status: incident.StatusFiring, Source: incident.SourceAlertmanager,
		Fingerprint: incident.FingerprintOf(labels)}
}

func onset(tb testing.TB, r *run) time.Time {
	tb.Helper()
	if r.truth.Onset != nil {
		return *r.truth.Onset
	}
	if len(r.truth.Effects) == 0 {
		tb.Fatalf("%s has no effects", r.name)
	}
	return r.truth.Effects[0].Start
}

// captures are the incidents captured per scenario.
type capture struct {
	name    string
	run     string
	inc     func(tb testing.TB, w *world, r *run) evidence.Incident
	check   func(t *testing.T, r *run, full, compact evidence.Pack)
	wantFor time.Duration
}

var captures = []capture{
	{name: "sidecar-memory-leak", run: "sidecar-memory-leak", wantFor: 30 * time.Minute,
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			return evidence.Incident{ID: 1, Namespace: "shop", Workload: "api",
				Alerts: []incident.Alert{alertOf(signals.SidecarMemoryLeak, "shop", "api", onset(tb, r).Add(25*time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			for _, p := range []evidence.Pack{full, compact} {
				m := only(t, p, evidence.KindSidecarMemory, "api", "istio-proxy")
				if m.Trend <= 0 || m.Limit == nil || math.Abs(*m.Limit-256*1024*1024) > 1e6 || m.TimeToLimit == nil || m.Last <= *m.Baseline {
					t.Errorf("the leaking sidecar's memory: %+v (ttl %v)", m.Summary, m.TimeToLimit)
				}
				if d := time.Duration(*m.TimeToLimit); d <= 0 || d > 24*time.Hour {
					t.Errorf("time to limit %v", d)
				}
			}
			// The other sidecars are not leaking.
			for _, m := range full.Find(evidence.KindSidecarMemory, "", "") {
				if m.Workload != "api" && m.TimeToLimit != nil {
					t.Errorf("%s's sidecar projected to its limit: %+v", m.Workload, m.Summary)
				}
			}
		}},
	{name: "timeout-cascade/api", run: "timeout-cascade", wantFor: 5 * time.Minute,
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			return evidence.Incident{ID: 2, Namespace: "shop", Workload: "api",
				Alerts: []incident.Alert{alertOf(signals.WorkloadErrorRate, "shop", "api", onset(tb, r).Add(6*time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			on := onset(t, r)
			for _, p := range []evidence.Pack{full, compact} {
				lat := only(t, p, evidence.KindLatencyP99, "inventory", "")
				if lat.ChangeAt == nil || lat.ChangeAt.Sub(on).Abs() > 4*time.Minute || lat.After == nil || lat.Baseline == nil ||
					*lat.After < 3**lat.Baseline {
					t.Errorf("inventory's P99 change point (onset %s): %+v", on.Format(time.TimeOnly), lat.Summary)
				}
				ut := edgeError(p, "api", "inventory", "504", "UT")
				if ut == nil || ut.Max < 0.01 {
					t.Errorf("api→inventory 504 UT: %+v", ut)
				}
				if callers := edgeError(p, "frontend", "api", "504", "UT"); callers == nil || callers.Max < 0.01 {
					t.Errorf("the caller's frontend→api 504 UT: %+v", callers)
				}
			}
			if !hasLog(full, "api", "504") {
				t.Errorf("no api error log pattern with 504: %+v", full.Logs)
			}
		}},
	{name: "timeout-cascade/frontend", run: "timeout-cascade", wantFor: 5 * time.Minute,
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			return evidence.Incident{ID: 3, Namespace: "shop", Workload: "frontend",
				Alerts: []incident.Alert{alertOf(signals.WorkloadErrorRate, "shop", "frontend", onset(tb, r).Add(7*time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			i := slices.IndexFunc(full.Scope, func(n evidence.Neighbour) bool { return n.Workload.Workload == "inventory" })
			if i < 0 || full.Scope[i].Via != "api" || full.Scope[i].Role != evidence.RoleCallee {
				t.Fatalf("inventory is not in frontend's scope through api: %+v", full.Scope)
			}
			for _, p := range []evidence.Pack{full, compact} {
				if e := edgeError(p, "frontend", "api", "504", "UT"); e == nil {
					t.Error("frontend→api 504 UT missing")
				}
				if lat := only(t, p, evidence.KindLatencyP99, "inventory", ""); lat.ChangeAt == nil {
					t.Errorf("inventory's P99 without a change point: %+v", lat.Summary)
				}
			}
		}},
	{name: "canary-5xx-regression", run: "canary-5xx-regression", wantFor: time.Minute,
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			rolledBack := w.firstTrue(tb, r, `flagger_canary_status{namespace="shop", name="payments"} > 1`)
			return evidence.Incident{ID: 4, Namespace: "shop", Workload: "payments",
				Alerts: []incident.Alert{alertOf(signals.CanaryRolledBack, "shop", "payments", rolledBack.Add(time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			if !slices.ContainsFunc(full.Scope, func(n evidence.Neighbour) bool {
				return n.Workload.Workload == "payments-primary" && n.Role == evidence.RoleVersion
			}) {
				t.Errorf("payments-primary is not a version neighbour: %+v", full.Scope)
			}
			for _, p := range []evidence.Pack{full, compact} {
				if st := only(t, p, evidence.KindCanaryStatus, "payments", ""); st.Max != 2 {
					t.Errorf("canary status %+v", st.Summary)
				}
				var e500 *evidence.Metric
				for _, m := range p.Find(evidence.KindErrorRatio, "shop", "payments") {
					if m.Detail["code"] == "500" {
						e500 = &m
					}
				}
				if e500 == nil || e500.Max < 0.01 {
					t.Errorf("the canary's 500s: %+v", e500)
				}
			}
			if len(full.Find(evidence.KindCanaryWeight, "shop", "payments")) != 1 {
				t.Error("no canary weight")
			}
			if !hasLog(full, "payments", "nil pointer dereference") || !hasLog(compact, "payments", "nil pointer dereference") {
				t.Errorf("no payments log pattern with the panic: %+v", compact.Logs)
			}
			if !slices.ContainsFunc(full.Traces, func(tr evidence.Trace) bool { return tr.Error && tr.Workload == "payments" }) {
				t.Errorf("no error trace of payments: %+v", full.Traces)
			}
		}},
	{name: "plaintext-under-strict", run: "plaintext-under-strict", wantFor: 5 * time.Minute,
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			return evidence.Incident{ID: 6, Namespace: "shop", Workload: "orders",
				Alerts: []incident.Alert{alertOf(signals.PlaintextUnderStrict, "shop", "orders", onset(tb, r).Add(6*time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			for _, p := range []evidence.Pack{full, compact} {
				var plain []evidence.Metric
				for _, m := range p.Find(evidence.KindMTLSShare, "shop", "orders") {
					if m.Min < 0.999 {
						plain = append(plain, m)
					}
				}
				if len(plain) == 0 || !slices.ContainsFunc(plain, func(m evidence.Metric) bool { return m.Peer != "" }) {
					t.Errorf("no plaintext share of orders by source: %+v", plain)
				}
			}
		}},
	{name: "app-oomkill", run: "app-oomkill",
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			return evidence.Incident{ID: 7, Namespace: "shop", Workload: "inventory",
				Alerts: []incident.Alert{alertOf(signals.ContainerOOMKilled, "shop", "inventory", r.end.Add(-10*time.Minute))}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			for _, p := range []evidence.Pack{full, compact} {
				if m := only(t, p, evidence.KindOOMKills, "inventory", "inventory"); m.Max <= 0 {
					t.Errorf("oom kills %+v", m.Summary)
				}
				if m := only(t, p, evidence.KindRestarts, "inventory", "inventory"); m.Max <= 0 {
					t.Errorf("restarts %+v", m.Summary)
				}
			}
			if m := only(t, full, evidence.KindAppMemory, "inventory", "inventory"); m.Limit == nil || m.Max < 0.8**m.Limit {
				t.Errorf("inventory's memory against its limit: %+v", m.Summary)
			}
		}},
	{name: "healthy", run: "healthy",
		inc: func(tb testing.TB, w *world, r *run) evidence.Incident {
			// A foreign alert (not in this Prometheus's rules): 5 minutes.
			labels := map[string]string{"alertname": "SomebodyElsesAlert", "namespace": "shop", "deployment": "api"}
			return evidence.Incident{ID: 5, Namespace: "shop", Workload: "api", Alerts: []incident.Alert{{Labels: labels,
				StartsAt: r.end.Add(-10 * time.Minute), Status: incident.StatusFiring}}}
		},
		check: func(t *testing.T, r *run, full, compact evidence.Pack) {
			for _, m := range full.Metrics {
				if (m.Kind == evidence.KindErrorRatio || m.Kind == evidence.KindEdgeErrorRatio) && m.Max > 0.05 {
					t.Errorf("healthy mesh with errors: %s %+v", m.ID, m.Summary)
				}
				if m.TimeToLimit != nil {
					t.Errorf("healthy mesh heading for a limit: %s %+v", m.ID, m.Summary)
				}
			}
		}},
}

func v1Range(from, to time.Time) v1.Range {
	return v1.Range{Start: from, End: to, Step: 30 * time.Second}
}

func only(t *testing.T, p evidence.Pack, kind evidence.Kind, wl, ctr string) evidence.Metric {
	t.Helper()
	var got []evidence.Metric
	for _, m := range p.Find(kind, "shop", wl) {
		if ctr == "" || m.Container == ctr {
			got = append(got, m)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s metrics of %s %s in %s pack (%d bytes)", len(got), kind, wl, ctr, map[bool]string{true: "the compact", false: "the full"}[p.Dropped != nil], len(p.JSON()))
	}
	return got[0]
}

func edgeError(p evidence.Pack, from, to, code, flags string) *evidence.Metric {
	for _, m := range p.Find(evidence.KindEdgeErrorRatio, "shop", from) {
		if m.Peer == to && m.Detail["code"] == code && m.Detail["flags"] == flags {
			return &m
		}
	}
	return nil
}

func hasLog(p evidence.Pack, wl, sub string) bool {
	return slices.ContainsFunc(p.Logs, func(l evidence.LogPattern) bool {
		return l.Workload == wl && strings.Contains(l.Pattern+l.Example, sub)
	})
}

func TestIntegrationCapture(t *testing.T) {
	w := getWorld(t)
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			r := w.runs[c.run]
			inc := c.inc(t, w, r)
			full, compact, rep := evidence.Build(context.Background(), w.sources(t, r), inc, r.end)
			if full.IsPartial() {
				t.Fatalf("partial: %+v", full.Partial)
			}
			if time.Duration(full.Window.RuleFor) != c.wantFor {
				t.Errorf("rule for %v, want %v", time.Duration(full.Window.RuleFor), c.wantFor)
			}
			lead := max(c.wantFor, 5*time.Minute)
			if want := inc.Alerts[0].StartsAt.Add(-lead).Truncate(time.Second); !full.Window.From.Equal(want) || !full.Window.To.Equal(r.end) {
				t.Errorf("window %v–%v, want %v–%v", full.Window.From, full.Window.To, want, r.end)
			}
			if !rep.Fits || len(compact.JSON()) > evidence.MaxBytes {
				t.Errorf("compact pack %d bytes > %d", len(compact.JSON()), evidence.MaxBytes)
			}
			// Every id is unique and stable: a second capture has the same ids
			// for the same items.
			ids := full.IDs()
			if u := slices.Compact(slices.Sorted(slices.Values(ids))); len(u) != len(ids) {
				t.Errorf("duplicate evidence ids")
			}
			again := evidence.Collect(context.Background(), w.sources(t, r), inc, r.end)
			if a, b := slices.Sorted(slices.Values(again.IDs())), slices.Sorted(slices.Values(ids)); !slices.Equal(a, b) {
				t.Errorf("ids changed between captures:\n%v\n%v", a, b)
			}
			if os.Getenv("EVIDENCE_DUMP") != "" {
				for _, m := range full.Metrics {
					b, _ := json.Marshal(m)
					t.Logf("%.2f %s", evidence.MetricScore(m, full.Subject, full.Window), b)
				}
			}
			c.check(t, r, full, compact)
			// The charts' series are the points the summaries were made of:
			// Series, with the capture's queries, summarizes to the pack's
			// numbers.
			var charted []string
			for _, m := range full.Metrics[:min(len(full.Metrics), evidence.MaxSeriesIDs)] {
				charted = append(charted, m.ID)
			}
			series, err := evidence.Series(context.Background(), w.sources(t, r).Prometheus, full, charted)
			if err != nil || len(series) != len(charted) {
				t.Fatalf("series: %d for %d ids, %v", len(series), len(charted), err)
			}
			for _, s := range series {
				limit := 0.0
				if s.Metric.Limit != nil {
					limit = *s.Metric.Limit
				}
				sum, packed := evidence.Summarize(s.Points, full.Window, limit), s.Metric.Summary
				// The projected time to the limit is rounded to the minute: a
				// last-digit difference in the trend may move it by one.
				gotTTL, wantTTL := sum.TimeToLimit, packed.TimeToLimit
				sum.TimeToLimit, packed.TimeToLimit = nil, nil
				if got, want := jsonOf(sum), jsonOf(packed); got != want {
					t.Errorf("%s: its series summarize to\n%s, the pack has\n%s", s.Metric.ID, got, want)
				}
				if (gotTTL == nil) != (wantTTL == nil) ||
					(gotTTL != nil && (time.Duration(*gotTTL)-time.Duration(*wantTTL)).Abs() > time.Minute) {
					t.Errorf("%s: time to limit %v from the series, %v in the pack", s.Metric.ID, gotTTL, wantTTL)
				}
			}
			n := len(compact.JSON())
			t.Logf("%s: scope %d, full pack %d metrics %d logs %d traces (%d B) → compact %d B ≈ %d tokens, dropped %d ids",
				c.name, len(full.Scope), len(full.Metrics), len(full.Logs), len(full.Traces), rep.Before, n, evidence.EstimateTokens(n), len(rep.Dropped))
			if testing.Verbose() {
				t.Logf("compact pack: %s", compact.JSON())
			}
		})
	}
}

// A source that is down or slow is named in Partial; the rest still fills.
func TestIntegrationPartialPacks(t *testing.T) {
	w := getWorld(t)
	r := w.runs["canary-5xx-regression"]
	c := captures[slices.IndexFunc(captures, func(c capture) bool { return c.name == "canary-5xx-regression" })]
	inc := c.inc(t, w, r)

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()

	src := w.sources(t, r)
	deadLoki, _ := loki.New(settings.Endpoint{URL: down.URL, TimeoutSeconds: 10})
	slowTempo, _ := tempo.New(settings.Endpoint{URL: slow.URL, TimeoutSeconds: 30})
	src.Loki, src.Tempo, src.Timeout = deadLoki, slowTempo, 800*time.Millisecond
	began := time.Now()
	p := evidence.Collect(context.Background(), src, inc, r.end)
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("a slow source held the capture for %s", took)
	}
	sources := map[string]string{}
	for _, sp := range p.Partial {
		sources[sp.Source] = sp.Error
	}
	if sources[evidence.SourceLoki] == "" || sources[evidence.SourceTempo] == "" || len(sources) != 2 {
		t.Errorf("partial %+v", p.Partial)
	}
	if !strings.Contains(sources[evidence.SourceTempo], "deadline") && !strings.Contains(sources[evidence.SourceTempo], "timeout") &&
		!strings.Contains(sources[evidence.SourceTempo], "Timeout") {
		t.Errorf("tempo's problem does not say it was slow: %s", sources[evidence.SourceTempo])
	}
	if len(p.Metrics) == 0 || len(p.Scope) == 0 || len(p.Logs) != 0 || len(p.Traces) != 0 {
		t.Errorf("the rest did not fill: %d metrics, scope %d", len(p.Metrics), len(p.Scope))
	}

	// Prometheus down: the window falls back to 5 minutes, the logs still come.
	deadProm, _ := prometheus.New(settings.Endpoint{URL: down.URL, TimeoutSeconds: 10})
	src = w.sources(t, r)
	src.Prometheus = deadProm.API()
	p = evidence.Collect(context.Background(), src, inc, r.end)
	got := []string{}
	for _, sp := range p.Partial {
		got = append(got, sp.Source)
	}
	sort.Strings(got)
	if !slices.Equal(got, []string{evidence.SourcePrometheus, evidence.SourceRules}) {
		t.Errorf("partial %v", p.Partial)
	}
	if want := inc.Alerts[0].StartsAt.Add(-5 * time.Minute).Truncate(time.Second); !p.Window.From.Equal(want) {
		t.Errorf("window from %v, want %v", p.Window.From, want)
	}
	if len(p.Logs) == 0 || len(p.Metrics) != 0 {
		t.Errorf("logs %d metrics %d", len(p.Logs), len(p.Metrics))
	}
	if compact, rep := evidence.Compact(p, evidence.MaxBytes); !rep.Fits || len(compact.Partial) != 2 {
		t.Error("a partial pack loses its Partial when compacted")
	}
}

// BenchmarkCollect: alert → pack and findings ready (Collect, the
// detectors, Compact keeping what the findings cite) on real Prometheus and
// Loki (Tempo: the contract fake), per scenario: p50 and p95 in ms, the mean
// of each phase (window, scope, metrics, logs, traces, detect), the compact
// pack's bytes and estimated tokens.
func BenchmarkCollect(b *testing.B) {
	w := getWorld(b)
	for _, c := range captures {
		b.Run(strings.ReplaceAll(c.name, "/", "-"), func(b *testing.B) {
			r := w.runs[c.run]
			inc := c.inc(b, w, r)
			src := w.sources(b, r)
			var took []time.Duration
			var size, partial int
			var mu sync.Mutex
			phases := map[string]time.Duration{}
			evidence.SetPhaseTimer(func(p string, d time.Duration) { mu.Lock(); phases[p] += d; mu.Unlock() })
			defer evidence.SetPhaseTimer(nil)
			for b.Loop() {
				began := time.Now()
				full := evidence.Collect(context.Background(), src, inc, r.end)
				detected := time.Now()
				found := findings.Detect(&full)
				mu.Lock()
				phases["detect"] += time.Since(detected)
				mu.Unlock()
				var cited []string
				for _, f := range found {
					cited = append(cited, f.Evidence...)
				}
				compact, _ := evidence.Compact(full, evidence.MaxBytes, cited...)
				took = append(took, time.Since(began))
				size = len(compact.JSON())
				if compact.IsPartial() {
					partial++
					b.Logf("partial: %+v", compact.Partial)
				}
			}
			b.ReportMetric(float64(partial), "partial-packs")
			slices.Sort(took)
			pct := func(q float64) float64 {
				return float64(took[int(math.Ceil(q*float64(len(took))))-1]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			for _, p := range []string{"window", "scope", "metrics", "logs", "traces", "detect"} {
				b.ReportMetric(float64(phases[p])/float64(len(took))/float64(time.Millisecond), p+"-ms")
			}
			b.ReportMetric(float64(size), "pack-bytes")
			b.ReportMetric(float64(evidence.EstimateTokens(size)), "pack-tokens")
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
