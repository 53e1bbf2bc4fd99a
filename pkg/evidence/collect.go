package evidence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/signals"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

// LogSource is what Collect reads logs with (*loki.Client).
type LogSource interface {
	QueryRange(ctx context.Context, q loki.LogQuery) ([]loki.Stream, error)
	QueryVector(ctx context.Context, query string, at time.Time) ([]loki.Sample, error)
}

// TraceSource is what Collect searches traces with (*tempo.Client).
type TraceSource interface {
	Search(ctx context.Context, r tempo.SearchRequest) ([]tempo.TraceSummary, error)
}

// Defaults of Sources.
const (
	// DefaultTimeout bounds each source's part of a capture.
	DefaultTimeout = 5 * time.Second
	// MinWindowLead is the least time before the alert's start the window
	// reaches back (issue 19: the larger of the rule's `for` and 5 minutes).
	MinWindowLead = 5 * time.Minute
	// DefaultSlowTrace is the least duration of a "slow" trace.
	DefaultSlowTrace = 500 * time.Millisecond
	// DefaultLogLines is how many error lines are read at most (in
	// LogSlices slices of the window, so the sample spans all of it).
	DefaultLogLines = 400
	// LogSlices: the window is read in this many slices, in parallel (each
	// backward query decodes its chunks again: more slices cost Loki more
	// than they spread the sample).
	LogSlices = 2
	// MaxScope bounds the neighbours (the busiest kept).
	MaxScope = 12
	// MaxPoints is about how many points a range query returns per series;
	// the step grows with the window to keep it so (never under MinStep).
	MaxPoints = 100
	MinStep   = 15 * time.Second
	// MaxLogPatterns and MaxTraces bound those lists before Compact.
	MaxLogPatterns = 12
	MaxTraces      = 8
	// tracedWorkloads bounds the workloads traces are searched for.
	tracedWorkloads = 6
)

// LokiLabels name the stream labels logs are selected and attributed by.
type LokiLabels struct{ Namespace, Pod, Container string }

// DefaultLokiLabels are those Grafana Alloy's and Promtail's Kubernetes
// discovery attach.
var DefaultLokiLabels = LokiLabels{Namespace: "namespace", Pod: "pod", Container: "container"}

// ErrorLineFilter is the line filter (RE2) that selects a scope's error
// lines in Loki: the words errors, warnings and failures are written with
// (a level field's value among them), in the capitalizations logs use. It
// is a case-sensitive alternation of plain words on purpose: Loki runs that
// as substring matches, while (?i) or any other regular expression runs
// Go's regexp engine over every line of the window, 5 to 10 times slower.
const ErrorLineFilter = `error|Error|ERROR|warn|Warn|WARN|fatal|Fatal|FATAL|panic|Panic|exception|Exception|` +
	`fail|Fail|FAIL|timeout|Timeout|timed out|refused|reset by peer|rejected|denied|killed|Killed|OOM|` +
	`out of memory|unavailable|Unavailable|slow request`

// Sources are where a capture reads, and its bounds. Prometheus is required;
// Loki and Tempo are optional (nil: not configured, not partial).
type Sources struct {
	Prometheus v1.API
	Loki       LogSource
	Tempo      TraceSource
	// Timeout bounds each source's part of the capture; 0 means
	// DefaultTimeout. A source that fails or runs out of time is listed in
	// the pack's Partial and the others still fill it.
	Timeout time.Duration
	// SlowTrace is the least duration of a slow trace; 0 means
	// DefaultSlowTrace.
	SlowTrace time.Duration
	// LogLines bounds the error lines read; 0 means DefaultLogLines.
	LogLines int
	// LokiLabels are the stream labels; zero means DefaultLokiLabels.
	LokiLabels LokiLabels
}

// Incident is what a capture is about: the incident's id, its workload and
// its alerts (their labels find the rule's `for`, their startsAt and endsAt
// the window).
type Incident struct {
	ID        int64
	Namespace string
	Workload  string
	Alerts    []incident.Alert
	// StartsAt is used when no alert is given; EndsAt is set once the
	// incident resolved (zero while open).
	StartsAt, EndsAt time.Time
}

// FromIncident is the capture subject of a stored incident and its alert
// records.
func FromIncident(inc incident.Incident, records []incident.Record) Incident {
	out := Incident{ID: inc.ID, Namespace: inc.Key.Namespace, Workload: inc.Key.Workload, StartsAt: inc.StartedAt}
	if inc.State == incident.StateResolved {
		out.EndsAt = inc.ResolvedAt
	}
	for _, r := range records {
		out.Alerts = append(out.Alerts, r.Alert)
	}
	return out
}

// Build collects the pack (Collect) and compacts it to MaxBytes (Compact):
// the pack an LLM is given. The full pack is what the detectors may read.
func Build(ctx context.Context, src Sources, inc Incident, now time.Time) (full, compact Pack, rep CompactReport) {
	full = Collect(ctx, src, inc, now)
	compact, rep = Compact(full, MaxBytes)
	return full, compact, rep
}

// Collect assembles the incident's evidence as of now, ranked (Rank) but
// not compacted. It never fails: what a source could not give is named in
// the pack's Partial (capture again later), and the rest is filled.
//
//  1. Window: [earliest startsAt − max(rule's for, 5m), now or the end].
//     The `for` of each alert's rule is read from Prometheus's rules
//     (GET /api/v1/rules) by alertname and the rule's labels (an active
//     alert of the rule with the same labels decides between rules that
//     share a name); a rule Prometheus does not have counts as 5 minutes.
//  2. Baseline: the span before the window that metrics are compared with,
//     as long as the window, at least 10 minutes and at most an hour.
//  3. Scope: the request graph (istio_requests_total, both reporters) over
//     baseline and window: the subject's callers, its callees, and its
//     callees' callees (Via names the callee between); Flagger's other
//     half (<name> and <name>-primary) and other workloads serving the
//     subject's service are "version" neighbours, and their neighbours
//     count as the subject's. At most MaxScope, the busiest first.
//  4. Metrics: range queries over baseline and window (step so that a
//     series has about MaxPoints points, rate windows twice the step and
//     at least 2m) of the standard Istio, cAdvisor, kube-state-metrics,
//     Flagger and istiod metrics and of the scope's callers' Envoy cluster
//     stats (retries, overflows, ejections per outbound cluster, the
//     cluster's service mapped to the workload serving it in the request
//     graph), each series summarized (Summarize): nine
//     round trips (plan; small queries merged by `or`), per-pod series
//     grouped by workload here (signals.WorkloadOf), the limits read once.
//     Series reads a pack's series again with the same queries, for charts.
//     Restart, OOM-kill, reject and per-response-code series that are zero
//     throughout are left out (no event is no evidence). A scope
//     workload's calls to an "unknown" destination are kept as edges (503
//     UH: a callee with no healthy pod).
//  5. Logs: the scope's error lines from Loki (ErrorLineFilter over the
//     streams of the scope's namespaces and pods), read newest first in
//     LogSlices slices of the window (LogLines in all), normalized into
//     patterns. A slice that had more lines than it read counts each line
//     read for the part of the slice it covered (the counts are estimates
//     then; first and last are of the lines read).
//  6. Traces: Tempo searches per workload (subject, versions, callees):
//     error traces by TraceQL { resource.service.name = "<workload>" &&
//     status = error }, slow ones by tags service.name=<workload> and
//     minDuration. The service name is assumed to be the workload's.
func Collect(ctx context.Context, src Sources, inc Incident, now time.Time) Pack {
	c := &collector{src: src, inc: inc, now: now.UTC()}
	if c.src.Timeout <= 0 {
		c.src.Timeout = DefaultTimeout
	}
	if c.src.SlowTrace <= 0 {
		c.src.SlowTrace = DefaultSlowTrace
	}
	if c.src.LogLines <= 0 {
		c.src.LogLines = DefaultLogLines
	}
	if c.src.LokiLabels == (LokiLabels{}) {
		c.src.LokiLabels = DefaultLokiLabels
	}
	return c.run(ctx)
}

type collector struct {
	src Sources
	inc Incident
	now time.Time

	mu       sync.Mutex
	problems map[string][]string

	subject Workload
	window  Window
	start   time.Time // baseline start
	step    time.Duration
	rate    string // rate() window
	scope   []Neighbour
	all     []Workload // subject, versions, then the rest of the scope
	// services maps a Kubernetes service ("namespace/name") to the
	// workload serving most of its requests, from the request graph: the
	// peer of the resilience kinds, which Envoy's cluster stats name by
	// service.
	services map[string]Workload
}

func (c *collector) fail(source string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.problems == nil {
		c.problems = map[string][]string{}
	}
	c.problems[source] = append(c.problems[source], err.Error())
}

// phaseTimer, when set (tests), receives each phase's duration.
var phaseTimer func(phase string, d time.Duration)

func timed(phase string, began time.Time) {
	if phaseTimer != nil {
		phaseTimer(phase, time.Since(began))
	}
}

func (c *collector) run(ctx context.Context) Pack {
	c.subject = Workload{Namespace: c.inc.Namespace, Workload: c.inc.Workload}
	promCtx, cancel := context.WithTimeout(ctx, c.src.Timeout)
	defer cancel()

	began := time.Now()
	c.window = c.windowOf(promCtx)
	timed("window", began)
	c.spans()
	began = time.Now()
	c.scope = c.scopeOf(promCtx)
	timed("scope", began)
	c.all = scopeWorkloads(c.subject, c.scope)

	p := Pack{Incident: c.inc.ID, Window: c.window, Subject: c.subject, Scope: c.scope, CapturedAt: c.now.Truncate(time.Second)}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); defer timed("metrics", time.Now()); p.Metrics = c.metrics(promCtx) }()
	go func() {
		defer wg.Done()
		if c.src.Loki != nil {
			lctx, cancel := context.WithTimeout(ctx, c.src.Timeout)
			defer cancel()
			defer timed("logs", time.Now())
			p.Logs = c.logs(lctx)
		}
	}()
	go func() {
		defer wg.Done()
		if c.src.Tempo != nil {
			tctx, cancel := context.WithTimeout(ctx, c.src.Timeout)
			defer cancel()
			defer timed("traces", time.Now())
			p.Traces = c.traces(tctx)
		}
	}()
	wg.Wait()
	for _, s := range []string{SourcePrometheus, SourceRules, SourceLoki, SourceTempo} {
		if errs := c.problems[s]; len(errs) > 0 {
			msg := errs[0]
			if len(errs) > 1 {
				msg = fmt.Sprintf("%s (and %d more failures)", msg, len(errs)-1)
			}
			p.Partial = append(p.Partial, SourceProblem{Source: s, Error: cut(msg, 300)})
		}
	}
	Rank(&p)
	return p
}

// spans sets what follows from the window: the baseline's start (the span
// before the window metrics are compared with, as long as the window, at
// least 10 minutes and at most an hour), the range queries' step and the
// rate() window.
func (c *collector) spans() {
	base := min(max(c.window.Duration(), 10*time.Minute), time.Hour)
	c.start = c.window.From.Add(-base)
	c.step = stepFor(c.window.To.Sub(c.start))
	c.rate = promDuration(max(2*c.step, 2*time.Minute))
}

// scopeWorkloads are the workloads the metrics, logs and traces are read
// for: the subject, its versions, then the rest of the scope.
func scopeWorkloads(subject Workload, scope []Neighbour) []Workload {
	all := []Workload{subject}
	for _, n := range scope {
		if n.Role == RoleVersion {
			all = append(all, n.Workload)
		}
	}
	for _, n := range scope {
		if n.Role != RoleVersion {
			all = append(all, n.Workload)
		}
	}
	return all
}

// ---- window ----

func (c *collector) windowOf(ctx context.Context) Window {
	to := c.now
	if !c.inc.EndsAt.IsZero() && c.inc.EndsAt.Before(to) {
		to = c.inc.EndsAt
	}
	alerts := c.inc.Alerts
	var rules []v1.AlertingRule
	if len(alerts) > 0 && c.src.Prometheus != nil {
		res, err := c.src.Prometheus.Rules(ctx, nil)
		if err != nil {
			c.fail(SourceRules, fmt.Errorf("rules (the window assumes a 5m for): %w", err))
		}
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				if ar, ok := r.(v1.AlertingRule); ok {
					rules = append(rules, ar)
				}
			}
		}
	}
	w := Window{To: to.UTC().Truncate(time.Second)}
	if len(alerts) == 0 {
		start := c.inc.StartsAt
		if start.IsZero() {
			start = to
		}
		w.From = start.Add(-MinWindowLead)
	}
	for i, a := range alerts {
		f := RuleFor(rules, a.Labels)
		from := a.StartsAt.Add(-max(f, MinWindowLead))
		if i == 0 || from.Before(w.From) {
			w.From, w.RuleFor = from, Duration(f)
		}
	}
	w.From = w.From.UTC().Truncate(time.Second)
	if !w.From.Before(w.To) {
		w.From = w.To.Add(-MinWindowLead)
	}
	return w
}

// RuleFor is the `for` of the alerting rule that raised an alert with these
// labels: among the rules with the alert's name whose own labels the alert
// carries, one with an active alert of exactly these labels, else the
// longest `for`; 0 when no rule matches (a Grafana-managed or foreign rule).
func RuleFor(rules []v1.AlertingRule, labels map[string]string) time.Duration {
	name := labels[model.AlertNameLabel]
	var best time.Duration
	for _, r := range rules {
		if r.Name != name || !carries(labels, r.Labels) {
			continue
		}
		d := time.Duration(r.Duration * float64(time.Second))
		for _, a := range r.Alerts {
			if a != nil && sameLabels(a.Labels, labels) {
				return d
			}
		}
		best = max(best, d)
	}
	return best
}

func carries(labels map[string]string, want model.LabelSet) bool {
	for k, v := range want {
		if labels[string(k)] != string(v) {
			return false
		}
	}
	return true
}

func sameLabels(a model.LabelSet, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	return carries(b, a)
}

func stepFor(span time.Duration) time.Duration {
	step := span / MaxPoints
	if step < MinStep {
		return MinStep
	}
	return (step + MinStep - 1) / MinStep * MinStep
}

func promDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// ---- scope ----

func (c *collector) scopeOf(ctx context.Context) []Neighbour {
	if c.src.Prometheus == nil {
		c.fail(SourcePrometheus, errors.New("no Prometheus configured"))
		return nil
	}
	span := promDuration(c.window.To.Sub(c.start).Round(time.Second))
	q := `sum by (source_workload_namespace, source_workload, destination_workload_namespace, destination_workload, destination_service_namespace, destination_service_name) ` +
		`(increase(istio_requests_total[` + span + `])) > 0`
	v, _, err := c.src.Prometheus.Query(ctx, q, c.window.To)
	if err != nil {
		c.fail(SourcePrometheus, fmt.Errorf("request graph: %w", err))
		return nil
	}
	vec, _ := v.(model.Vector)
	var edges []Edge
	defer func() { c.services = ServiceWorkloads(edges) }()
	for _, s := range vec {
		m := s.Metric
		e := Edge{
			From:    Workload{string(m["source_workload_namespace"]), string(m["source_workload"])},
			To:      Workload{string(m["destination_workload_namespace"]), string(m["destination_workload"])},
			Service: string(m["destination_service_namespace"]) + "/" + string(m["destination_service_name"]),
			Volume:  float64(s.Value),
		}
		if e.From.Workload == "" || e.To.Workload == "" || e.To.Workload == "unknown" {
			continue
		}
		edges = append(edges, e)
	}
	return ScopeOf(c.subject, edges)
}

// ServiceWorkloads maps each service of a request graph ("namespace/name")
// to the workload that served most of its requests.
func ServiceWorkloads(graph []Edge) map[string]Workload {
	vol := map[string]map[Workload]float64{}
	for _, e := range graph {
		if e.Service == "" || e.Service == "/" || e.To.Workload == "" || e.To.Workload == "unknown" {
			continue
		}
		if vol[e.Service] == nil {
			vol[e.Service] = map[Workload]float64{}
		}
		vol[e.Service][e.To] += e.Volume
	}
	out := map[string]Workload{}
	for svc, ws := range vol {
		var best Workload
		bestV := -1.0
		for w, v := range ws {
			if v > bestV || (v == bestV && w.String() < best.String()) {
				best, bestV = w, v
			}
		}
		out[svc] = best
	}
	return out
}

// clusterService is the service ("namespace/name") of an Envoy outbound
// cluster name, outbound|<port>|<subset>|<name>.<namespace>.svc.<domain>;
// ok is false for any other cluster.
func clusterService(cluster string) (string, bool) {
	parts := strings.Split(cluster, "|")
	if len(parts) != 4 || parts[0] != "outbound" {
		return "", false
	}
	name, rest, ok := strings.Cut(parts[3], ".")
	if !ok || name == "" {
		return "", false
	}
	ns, _, _ := strings.Cut(rest, ".")
	if ns == "" {
		return "", false
	}
	return ns + "/" + name, true
}

// serviceWorkload is the workload serving a service ("namespace/name"):
// the request graph's busiest, or the service's own name when no request
// reached it.
func (c *collector) serviceWorkload(svc string) Workload {
	if w, ok := c.services[svc]; ok {
		return w
	}
	ns, name, _ := strings.Cut(svc, "/")
	return Workload{Namespace: ns, Workload: name}
}

// Edge is one edge of the request graph, for ScopeOf.
type Edge struct {
	From, To Workload
	// Service is the destination service ("namespace/name").
	Service string
	// Volume is the requests over the span (both reporters).
	Volume float64
}

// ScopeOf is the subject's scope in a request graph (see Collect, step 3).
func ScopeOf(subject Workload, graph []Edge) []Neighbour {
	isSelf := map[Workload]bool{subject: true}
	// Flagger's other half, and other workloads serving the subject's
	// services: versions.
	base := strings.TrimSuffix(subject.Workload, "-primary")
	versions := map[Workload]bool{}
	services := map[string]bool{}
	for _, e := range graph {
		if e.To == subject {
			services[e.Service] = true
		}
	}
	for _, e := range graph {
		for _, w := range []Workload{e.From, e.To} {
			if w == subject || w.Namespace != subject.Namespace {
				continue
			}
			if w.Workload == base || w.Workload == base+"-primary" {
				versions[w] = true
			}
		}
		if services[e.Service] && e.To != subject && e.Service != "/" {
			versions[e.To] = true
		}
	}
	for w := range versions {
		isSelf[w] = true
	}
	type cand struct {
		n      Neighbour
		volume float64
	}
	found := map[Workload]*cand{}
	add := func(w Workload, r Role, via string, vol float64) {
		if isSelf[w] || w.Workload == "unknown" {
			return
		}
		c := found[w]
		if c == nil {
			found[w] = &cand{n: Neighbour{Workload: w, Role: r, Via: via}, volume: vol}
			return
		}
		c.volume += vol
		switch {
		case c.n.Via != "" && via == "":
			c.n.Role, c.n.Via = r, "" // direct wins over second hop
		case c.n.Via == "" && via == "" && c.n.Role != r:
			c.n.Role = RoleBoth
		}
	}
	callees := map[Workload]bool{}
	for _, e := range graph {
		switch {
		case isSelf[e.To] && !isSelf[e.From]:
			add(e.From, RoleCaller, "", e.Volume)
		case isSelf[e.From] && !isSelf[e.To]:
			add(e.To, RoleCallee, "", e.Volume)
			callees[e.To] = true
		}
	}
	for _, e := range graph {
		if callees[e.From] && !isSelf[e.To] && !callees[e.To] {
			add(e.To, RoleCallee, e.From.Workload, e.Volume)
		}
	}
	var out []cand
	for w := range versions {
		out = append(out, cand{n: Neighbour{Workload: w, Role: RoleVersion}, volume: math.Inf(1)})
	}
	for _, c := range found {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.n.Via == "") != (b.n.Via == "") {
			return a.n.Via == ""
		}
		if a.volume != b.volume {
			return a.volume > b.volume
		}
		return a.n.String() < b.n.String()
	})
	if len(out) > MaxScope {
		out = out[:MaxScope]
	}
	ns := make([]Neighbour, len(out))
	for i, c := range out {
		ns[i] = c.n
	}
	return ns
}

// ---- metrics ----

const (
	serverSide = `reporter=~"destination|waypoint"`
	clientSide = `reporter=~"source|waypoint"`
	dstBy      = `destination_workload_namespace, destination_workload`
	edgeBy     = `source_workload_namespace, source_workload, destination_workload_namespace, destination_workload`
)

// promString writes s as a PromQL/LogQL double-quoted string.
func promString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// alternation is an anchored-by-the-caller RE2 alternation of names.
func alternation(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	sort.Strings(q)
	return strings.Join(q, "|")
}

// metricQuery is one range query and how its series become metrics.
type metricQuery struct {
	// kinds are the kinds of the metrics its series become.
	kinds []Kind
	expr  string
	// to maps a series to its metric (ok false: not evidence).
	to func(m model.Metric) (Metric, bool)
	// dropZero: a series that is zero throughout is no evidence.
	dropZero bool
	// split, when set, turns the answer into the series to summarize.
	split func(model.Matrix) model.Matrix
	// parts, when set, are the queries merged into this one (mergeKinds).
	parts []metricQuery
}

// The series byCode derives, told apart by derivedLabel.
const (
	derivedLabel = "__evidence"
	derivedRate  = "rate"  // all requests per second
	derivedRatio = "ratio" // share of 5xx
	derivedCode  = "code"  // share of one 5xx response code and flags
)

var (
	dstLabels  = []model.LabelName{"destination_workload_namespace", "destination_workload"}
	edgeLabels = []model.LabelName{"source_workload_namespace", "source_workload", "destination_workload_namespace", "destination_workload"}
)

// byCode splits request rates per response code and flags, grouped by
// labels, into each group's total rate, its 5xx ratio (0 where it had no
// 5xx) and one ratio per 5xx code and flags (at the times that code's
// series has points; zero throughout is dropped later).
func byCode(labels []model.LabelName) func(model.Matrix) model.Matrix {
	return func(in model.Matrix) model.Matrix {
		type group struct {
			metric     model.Metric
			total, bad map[model.Time]float64
			codes      []*model.SampleStream
		}
		groups := map[string]*group{}
		var order []string
		for _, s := range in {
			key := ""
			for _, l := range labels {
				key += string(s.Metric[l]) + "\x00"
			}
			g := groups[key]
			if g == nil {
				g = &group{metric: model.Metric{}, total: map[model.Time]float64{}, bad: map[model.Time]float64{}}
				for _, l := range labels {
					g.metric[l] = s.Metric[l]
				}
				groups[key] = g
				order = append(order, key)
			}
			is5xx := strings.HasPrefix(string(s.Metric["response_code"]), "5") && len(s.Metric["response_code"]) == 3
			for _, v := range s.Values {
				g.total[v.Timestamp] += float64(v.Value)
				if is5xx {
					g.bad[v.Timestamp] += float64(v.Value)
				}
			}
			if is5xx {
				g.codes = append(g.codes, s)
			}
		}
		var out model.Matrix
		for _, key := range order {
			g := groups[key]
			times := make([]model.Time, 0, len(g.total))
			for t := range g.total {
				times = append(times, t)
			}
			slices.Sort(times)
			rate := &model.SampleStream{Metric: with(g.metric, derivedRate)}
			ratio := &model.SampleStream{Metric: with(g.metric, derivedRatio)}
			for _, t := range times {
				tot := g.total[t]
				rate.Values = append(rate.Values, model.SamplePair{Timestamp: t, Value: model.SampleValue(tot)})
				if tot > 0 {
					ratio.Values = append(ratio.Values, model.SamplePair{Timestamp: t, Value: model.SampleValue(g.bad[t] / tot)})
				}
			}
			out = append(out, rate, ratio)
			for _, c := range g.codes {
				cs := &model.SampleStream{Metric: with(c.Metric, derivedCode)}
				for _, v := range c.Values {
					if tot := g.total[v.Timestamp]; tot > 0 {
						cs.Values = append(cs.Values, model.SamplePair{Timestamp: v.Timestamp, Value: model.SampleValue(float64(v.Value) / tot)})
					}
				}
				out = append(out, cs)
			}
		}
		return out
	}
}

func with(m model.Metric, kind string) model.Metric {
	out := m.Clone()
	out[derivedLabel] = model.LabelValue(kind)
	return out
}

func (c *collector) inScope(ns, wl string) bool {
	for _, w := range c.all {
		if w.Namespace == ns && w.Workload == wl {
			return true
		}
	}
	return false
}

// plan is the metric queries of the scope (see Collect, step 4) and the
// instant query of the containers' limits. Collect runs them all; Series
// runs those of the kinds it is asked for: the same query text over the same
// range, so a chart shows the very points a summary was made of.
func (c *collector) plan() (queries []metricQuery, limitsExpr string) {
	var nss, wls, bases []string
	seenNS, seenWL := map[string]bool{}, map[string]bool{}
	for _, w := range c.all {
		if !seenNS[w.Namespace] {
			seenNS[w.Namespace] = true
			nss = append(nss, w.Namespace)
		}
		for _, n := range []string{w.Workload, strings.TrimSuffix(w.Workload, "-primary"), strings.TrimSuffix(w.Workload, "-primary") + "-primary"} {
			if !seenWL[n] {
				seenWL[n] = true
				wls = append(wls, n)
			}
		}
		if b := strings.TrimSuffix(w.Workload, "-primary"); !seenNS["\x00"+b] {
			seenNS["\x00"+b] = true
			bases = append(bases, b)
		}
	}
	ns, wl := promString(alternation(nss)), promString(alternation(wls))
	dst := `destination_workload_namespace=~` + ns + `, destination_workload=~` + wl
	srcM := `source_workload_namespace=~` + ns + `, source_workload=~` + wl
	pods := `namespace=~` + ns + `, ` + signals.PodOf(strings.Trim(promString(alternation(wls)), `"`))
	R := c.rate
	req := func(sel ...string) string { return `istio_requests_total{` + strings.Join(sel, ", ") + `}` }
	rate := func(by, sel string) string { return `sum by (` + by + `) (rate(` + sel + `[` + R + `]))` }

	dstW := func(m model.Metric) (string, string) {
		return string(m["destination_workload_namespace"]), string(m["destination_workload"])
	}
	server := func(kind Kind, unit string, detail bool) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			n, w := dstW(m)
			if !c.inScope(n, w) {
				return Metric{}, false
			}
			out := Metric{Kind: kind, Namespace: n, Workload: w, Unit: unit}
			if detail {
				out.Detail = codeDetail(m)
			}
			return out, true
		}
	}
	edgeOf := func(kind Kind, unit string, detail bool) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			sn, sw := string(m["source_workload_namespace"]), string(m["source_workload"])
			dn, dw := dstW(m)
			// Calls to an "unknown" destination are kept: a callee with no
			// healthy pod leaves its callers' 503 UH unattributed.
			if !c.inScope(sn, sw) || (!c.inScope(dn, dw) && dw != "unknown") {
				return Metric{}, false
			}
			out := Metric{Kind: kind, Namespace: sn, Workload: sw, Peer: peer(sn, dn, dw), Unit: unit}
			if detail {
				out.Detail = codeDetail(m)
			}
			return out, true
		}
	}
	container := func(m model.Metric) (Metric, bool) {
		n, w, ct := string(m["namespace"]), string(m["workload"]), string(m["container"])
		if !c.inScope(n, w) || ct == "" {
			return Metric{}, false
		}
		return Metric{Namespace: n, Workload: w, Container: ct}, true
	}
	withKind := func(f func(model.Metric) (Metric, bool), kind Kind, unit string) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			out, ok := f(m)
			out.Kind, out.Unit = kind, unit
			return out, ok
		}
	}
	memory := func(m model.Metric) (Metric, bool) {
		out, ok := container(m)
		out.Kind, out.Unit = KindAppMemory, UnitBytes
		if out.Container == "istio-proxy" {
			out.Kind = KindSidecarMemory
		}
		return out, ok
	}
	byPod := `namespace, workload, container`
	// Per-pod series are read as they are and grouped by workload here
	// (byWorkload): label_replace at every step of a range query costs
	// Prometheus more than the grouping costs us.
	perPod := `namespace, pod, container`
	ratio := func(by, num, den string) string { // num/den, 0 where num has no series
		return `(` + rate(by, num) + ` / ` + rate(by, den) + `) or (0 * ` + rate(by, den) + `)`
	}
	// One query per side gives the request rate, the 5xx ratio and the
	// ratio of each 5xx code and flags (byCode splits it): the same
	// series read once instead of three times.
	perCode := `, response_code, response_flags`
	split := func(kind, codeKind Kind, f func(Kind, string, bool) func(model.Metric) (Metric, bool)) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			switch m[derivedLabel] {
			case derivedRate:
				return f(kind, UnitRPS, false)(m)
			case derivedRatio:
				return f(codeKind, UnitRatio, false)(m)
			}
			return f(codeKind, UnitRatio, true)(m)
		}
	}
	queries = []metricQuery{
		{kinds: []Kind{KindRequestRate, KindErrorRatio}, expr: rate(dstBy+perCode, req(serverSide, dst)), split: byCode(dstLabels),
			to: split(KindRequestRate, KindErrorRatio, server)},
		{kinds: []Kind{KindLatencyP99}, expr: `histogram_quantile(0.99, sum by (le, ` + dstBy + `) (rate(istio_request_duration_milliseconds_bucket{` + serverSide + `, ` + dst + `}[` + R + `])))`,
			to: server(KindLatencyP99, UnitMs, false)},
		{kinds: []Kind{KindEdgeRate, KindEdgeErrorRatio}, expr: rate(edgeBy+perCode, req(clientSide, srcM)), split: byCode(edgeLabels),
			to: split(KindEdgeRate, KindEdgeErrorRatio, edgeOf)},
		{kinds: []Kind{KindEdgeLatencyP99}, expr: `histogram_quantile(0.99, sum by (le, ` + edgeBy + `) (rate(istio_request_duration_milliseconds_bucket{` + clientSide + `, ` + srcM + `}[` + R + `])))`,
			to: edgeOf(KindEdgeLatencyP99, UnitMs, false)},
		{kinds: []Kind{KindSidecarMemory, KindAppMemory}, expr: `max by (` + perPod + `) (container_memory_working_set_bytes{` + pods + `, container!="", container!="POD"})`,
			split: byWorkload(maxOf), to: memory},
		{kinds: []Kind{KindCPU}, expr: `max by (` + perPod + `) (rate(container_cpu_usage_seconds_total{` + pods + `, container!="", container!="POD"}[` + R + `]))`,
			split: byWorkload(maxOf), to: withKind(container, KindCPU, UnitCores)},
		{kinds: []Kind{KindRestarts}, expr: `sum by (` + perPod + `) (increase(kube_pod_container_status_restarts_total{` + pods + `}[5m]))`,
			split: byWorkload(sumOf), to: withKind(container, KindRestarts, UnitCount), dropZero: true},
		{kinds: []Kind{KindOOMKills}, expr: `sum by (` + perPod + `) (increase(kube_pod_container_status_restarts_total{` + pods + `}[5m]) and on (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{` + pods + `, reason="OOMKilled"} == 1))`,
			split: byWorkload(sumOf), to: withKind(container, KindOOMKills, UnitCount), dropZero: true},
		{kinds: []Kind{KindMTLSShare}, expr: ratio(dstBy, req(`reporter="destination"`, dst, `connection_security_policy="mutual_tls"`), req(`reporter="destination"`, dst)),
			to: server(KindMTLSShare, UnitRatio, false)},
		{kinds: []Kind{KindMTLSShare}, expr: `1 - (` + rate(dstBy+`, source_workload_namespace, source_workload`, req(`reporter="destination"`, dst, `connection_security_policy!="mutual_tls"`)) +
			` / ` + rate(dstBy+`, source_workload_namespace, source_workload`, req(`reporter="destination"`, dst)) + `)`,
			to: func(m model.Metric) (Metric, bool) {
				n, w := dstW(m)
				if !c.inScope(n, w) {
					return Metric{}, false
				}
				return Metric{Kind: KindMTLSShare, Namespace: n, Workload: w, Unit: UnitRatio,
					Peer: peer(n, string(m["source_workload_namespace"]), string(m["source_workload"]))}, true
			}},
		{kinds: []Kind{KindCanaryWeight}, expr: `max by (namespace, workload) (flagger_canary_weight{namespace=~` + ns + `, workload=~` + wl + `})`,
			to: func(m model.Metric) (Metric, bool) {
				return Metric{Kind: KindCanaryWeight, Namespace: string(m["namespace"]), Workload: string(m["workload"]), Unit: UnitPercent}, true
			}},
		{kinds: []Kind{KindCanaryStatus}, expr: `max by (namespace, name) (flagger_canary_status{namespace=~` + ns + `, name=~` + promString(alternation(bases)) + `})`,
			to: func(m model.Metric) (Metric, bool) {
				return Metric{Kind: KindCanaryStatus, Namespace: string(m["namespace"]), Workload: string(m["name"]), Unit: UnitStatus}, true
			}},
		{kinds: []Kind{KindIstiodPushes}, expr: `sum by (namespace, pod) (rate(pilot_xds_pushes[` + R + `]))`, split: byWorkload(sumOf),
			to: func(m model.Metric) (Metric, bool) {
				return Metric{Kind: KindIstiodPushes, Namespace: string(m["namespace"]), Workload: string(m["workload"]), Unit: UnitPerSec}, true
			}},
		{kinds: []Kind{KindIstiodRejects}, expr: `sum by (namespace, pod, type) (increase(pilot_total_xds_rejects[5m]))`, split: byWorkload(sumOf, "type"),
			to: func(m model.Metric) (Metric, bool) {
				out := Metric{Kind: KindIstiodRejects, Namespace: string(m["namespace"]), Workload: string(m["workload"]), Unit: UnitCount}
				if t := string(m["type"]); t != "" {
					out.Detail = map[string]string{"type": t}
				}
				return out, true
			}, dropZero: true},
	}
	// Envoy's cluster stats of the scope's callers, per outbound cluster.
	clusterEdge := func(kind Kind, unit string) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			n, w := string(m["namespace"]), string(m["workload"])
			svc, ok := clusterService(string(m["cluster_name"]))
			if !ok || !c.inScope(n, w) {
				return Metric{}, false
			}
			d := c.serviceWorkload(svc)
			return Metric{Kind: kind, Namespace: n, Workload: w, Peer: peer(n, d.Namespace, d.Workload), Unit: unit,
				Detail: map[string]string{"service": svc}}, true
		}
	}
	outbound := pods + `, cluster_name=~"outbound\\|.*"`
	perCluster := `namespace, pod, cluster_name`
	queries = append(queries,
		metricQuery{kinds: []Kind{KindEdgeRetries}, expr: `sum by (` + perCluster + `) (rate(envoy_cluster_upstream_rq_retry{` + outbound + `}[` + R + `]))`,
			split: byWorkload(sumOf, "cluster_name"), to: clusterEdge(KindEdgeRetries, UnitRPS), dropZero: true},
		metricQuery{kinds: []Kind{KindEdgeOverflow}, expr: `sum by (` + perCluster + `) (rate(envoy_cluster_upstream_rq_pending_overflow{` + outbound + `}[` + R + `]))`,
			split: byWorkload(sumOf, "cluster_name"), to: clusterEdge(KindEdgeOverflow, UnitRPS), dropZero: true},
		metricQuery{kinds: []Kind{KindEdgeEjections}, expr: `max by (` + perCluster + `) (envoy_cluster_outlier_detection_ejections_active{` + outbound + `})`,
			split: byWorkload(maxOf, "cluster_name"), to: clusterEdge(KindEdgeEjections, UnitCount), dropZero: true},
	)
	// Round trips: the two mTLS queries run as one, and so do the six small
	// event and control-plane ones with the three resilience ones.
	queries = mergeKinds(queries, KindMTLSShare)
	queries = mergeKinds(queries, KindRestarts, KindOOMKills, KindCanaryWeight, KindCanaryStatus, KindIstiodPushes, KindIstiodRejects,
		KindEdgeRetries, KindEdgeOverflow, KindEdgeEjections)
	limitsExpr = `max by (` + byPod + `, resource) (` + signals.WorkloadFromPod(
		`max_over_time(kube_pod_container_resource_limits{`+pods+`, resource=~"memory|cpu"}[`+promDuration(c.window.To.Sub(c.start).Round(time.Second))+`])`) + `)`
	return queries, limitsExpr
}

func (c *collector) metrics(ctx context.Context) []Metric {
	if c.src.Prometheus == nil {
		return nil
	}
	queries, limitsExpr := c.plan()
	r := v1.Range{Start: c.start, End: c.window.To, Step: c.step}
	results := make([]model.Matrix, len(queries))
	limits := map[string]float64{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			v, _, err := c.src.Prometheus.QueryRange(ctx, q.expr, r)
			if err != nil {
				c.fail(SourcePrometheus, fmt.Errorf("query_range: %w", err))
				return
			}
			results[i], _ = v.(model.Matrix)
			if q.split != nil {
				results[i] = q.split(results[i])
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		v, _, err := c.src.Prometheus.Query(ctx, limitsExpr, c.window.To)
		if err != nil {
			c.fail(SourcePrometheus, fmt.Errorf("limits: %w", err))
			return
		}
		vec, _ := v.(model.Vector)
		for _, s := range vec {
			m := s.Metric
			limits[string(m["namespace"])+"/"+string(m["workload"])+"/"+string(m["container"])+"/"+string(m["resource"])] = float64(s.Value)
		}
	}()
	wg.Wait()

	var out []Metric
	seen := map[string]bool{}
	for i, q := range queries {
		for _, s := range results[i] {
			m, pts, ok := seriesMetric(q, s)
			if !ok {
				continue
			}
			limit := 0.0
			switch m.Kind {
			case KindSidecarMemory, KindAppMemory:
				limit = limits[m.Namespace+"/"+m.Workload+"/"+m.Container+"/memory"]
			case KindCPU:
				limit = limits[m.Namespace+"/"+m.Workload+"/"+m.Container+"/cpu"]
			}
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			m.Summary = Summarize(pts, c.window, limit)
			out = append(out, m)
		}
	}
	return out
}

// partLabel tells the parts of a merged query's answer apart.
const partLabel = "meshwatch_part"

// mergeKinds runs the queries whose kinds are all among kinds as one query
// (the first one's place): their expressions joined by `or`, each answer
// marked with its part's index (partLabel), so each series is still mapped
// by its own query's rules (seriesMetric). Fewer round trips; the same
// series.
func mergeKinds(queries []metricQuery, kinds ...Kind) []metricQuery {
	var out, parts []metricQuery
	at := -1
	for _, q := range queries {
		if !allIn(q.kinds, kinds) {
			out = append(out, q)
			continue
		}
		if at < 0 {
			at = len(out)
			out = append(out, metricQuery{})
		}
		parts = append(parts, q)
	}
	if len(parts) < 2 {
		return queries
	}
	m := metricQuery{parts: parts}
	exprs := make([]string, len(parts))
	for i, q := range parts {
		m.kinds = append(m.kinds, q.kinds...)
		exprs[i] = `label_replace(` + q.expr + `, "` + partLabel + `", "` + strconv.Itoa(i) + `", "", "")`
	}
	m.expr = strings.Join(exprs, " or ")
	m.split = splitParts(parts)
	out[at] = m
	return out
}

// splitParts applies each part's split to its share of a merged answer,
// keeping the part's mark.
func splitParts(parts []metricQuery) func(model.Matrix) model.Matrix {
	return func(in model.Matrix) model.Matrix {
		each := make([]model.Matrix, len(parts))
		for _, s := range in {
			if i, err := strconv.Atoi(string(s.Metric[partLabel])); err == nil && i >= 0 && i < len(parts) {
				each[i] = append(each[i], s)
			}
		}
		var out model.Matrix
		for i, q := range parts {
			ms := each[i]
			if q.split != nil {
				ms = q.split(ms)
			}
			for _, s := range ms {
				s.Metric[partLabel] = model.LabelValue(strconv.Itoa(i))
			}
			out = append(out, ms...)
		}
		return out
	}
}

// Aggregations of byWorkload.
var (
	maxOf = math.Max
	sumOf = func(a, b float64) float64 { return a + b }
)

// byWorkload groups per-pod series by namespace, the pod's workload
// (signals.WorkloadOf, as signals.WorkloadFromPod derives it in PromQL),
// container and the extra labels, combining the values at each time with
// agg: the series `agg by (namespace, workload, container, extra)` of
// label_replace would give.
func byWorkload(agg func(a, b float64) float64, extra ...model.LabelName) func(model.Matrix) model.Matrix {
	labels := append([]model.LabelName{"namespace", "container"}, extra...)
	return func(in model.Matrix) model.Matrix {
		type group struct {
			s  *model.SampleStream
			at map[model.Time]int
		}
		groups := map[string]*group{}
		var out model.Matrix
		for _, s := range in {
			m := model.Metric{"workload": model.LabelValue(signals.WorkloadOf(string(s.Metric["pod"])))}
			key := string(m["workload"])
			for _, l := range labels {
				if v, ok := s.Metric[l]; ok {
					m[l] = v
				}
				key += "\x00" + string(s.Metric[l])
			}
			g := groups[key]
			if g == nil {
				g = &group{s: &model.SampleStream{Metric: m}, at: map[model.Time]int{}}
				groups[key] = g
				out = append(out, g.s)
			}
			for _, v := range s.Values {
				if i, ok := g.at[v.Timestamp]; ok {
					g.s.Values[i].Value = model.SampleValue(agg(float64(g.s.Values[i].Value), float64(v.Value)))
					continue
				}
				g.at[v.Timestamp] = len(g.s.Values)
				g.s.Values = append(g.s.Values, v)
			}
		}
		for _, g := range groups {
			sort.Slice(g.s.Values, func(i, j int) bool { return g.s.Values[i].Timestamp < g.s.Values[j].Timestamp })
		}
		return out
	}
}

func allIn(ks, of []Kind) bool {
	for _, k := range ks {
		if !slices.Contains(of, k) {
			return false
		}
	}
	return len(ks) > 0
}

// seriesMetric maps one series of a query's answer to its metric (with its
// evidence id) and points; ok is false when the series is no evidence (not
// the scope's, or an event series that is zero throughout).
func seriesMetric(q metricQuery, s *model.SampleStream) (m Metric, pts []Point, ok bool) {
	if q.parts != nil {
		i, err := strconv.Atoi(string(s.Metric[partLabel]))
		if err != nil || i < 0 || i >= len(q.parts) {
			return Metric{}, nil, false
		}
		q = q.parts[i]
	}
	m, ok = q.to(s.Metric)
	if !ok || m.Workload == "" {
		return Metric{}, nil, false
	}
	pts = make([]Point, 0, len(s.Values))
	zero := true
	for _, v := range s.Values {
		pts = append(pts, Point{T: v.Timestamp.Time(), V: float64(v.Value)})
		zero = zero && float64(v.Value) == 0
	}
	if (q.dropZero || s.Metric[derivedLabel] == derivedCode) && zero {
		return Metric{}, nil, false
	}
	m.ID = MetricID(m.Kind, m.Namespace, m.Workload, m.Peer, m.Container, m.Detail)
	return m, pts, true
}

// codeDetail is the response code and flags of an error-ratio series.
func codeDetail(m model.Metric) map[string]string {
	d := map[string]string{"code": string(m["response_code"])}
	if f := string(m["response_flags"]); f != "" {
		d["flags"] = f
	}
	return d
}

// peer names the other end of an edge: its workload, prefixed with its
// namespace when that differs from ns ("unknown" alone for a client outside
// the mesh).
func peer(ns, pns, pwl string) string {
	if pns == ns || pns == "" || pns == "unknown" {
		return pwl
	}
	return pns + "/" + pwl
}

// ---- logs ----

func (c *collector) logs(ctx context.Context) []LogPattern {
	lb := c.src.LokiLabels
	var nss, wls []string
	seen := map[string]bool{}
	for _, w := range c.all {
		if !seen["n"+w.Namespace] {
			seen["n"+w.Namespace] = true
			nss = append(nss, w.Namespace)
		}
		if !seen["w"+w.Workload] {
			seen["w"+w.Workload] = true
			wls = append(wls, w.Workload)
		}
	}
	podRE := strings.TrimPrefix(signals.PodOf(strings.Trim(promString(alternation(wls)), `"`)), "pod=~")
	sel := `{` + lb.Namespace + `=~` + promString(alternation(nss)) + `, ` + lb.Pod + `=~` + podRE + `}`
	query := sel + ` |~ ` + promString(ErrorLineFilter)

	from, to := c.window.From, c.window.To
	slice := to.Sub(from) / LogSlices
	limit := max(1, c.src.LogLines/LogSlices)
	type part struct {
		start, end time.Time
		streams    []loki.Stream
		err        error
	}
	parts := make([]part, LogSlices)
	var wg sync.WaitGroup
	for i := range LogSlices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[i]
			p.start = from.Add(time.Duration(i) * slice)
			p.end = p.start.Add(slice)
			if i == LogSlices-1 {
				p.end = to.Add(time.Second) // Loki's end is exclusive
			}
			p.streams, p.err = c.src.Loki.QueryRange(ctx, loki.LogQuery{Query: query, Start: p.start, End: p.end,
				Limit: limit, Direction: loki.Backward})
		}()
	}
	wg.Wait()

	var lines []LogLine
	for _, p := range parts {
		if p.err != nil {
			c.fail(SourceLoki, p.err)
			continue
		}
		// A slice that filled its limit was read backwards from its end
		// only down to its oldest line: its lines stand for the whole
		// slice in proportion (the density is taken as even).
		n, oldest := 0, p.end
		for _, s := range p.streams {
			n += len(s.Entries)
			for _, e := range s.Entries {
				if e.T.Before(oldest) {
					oldest = e.T
				}
			}
		}
		weight := 1.0
		if covered := p.end.Sub(oldest); n >= limit && covered > 0 {
			weight = float64(p.end.Sub(p.start)) / float64(covered)
		}
		for _, s := range p.streams {
			ns, pod := s.Labels[lb.Namespace], s.Labels[lb.Pod]
			w := signals.WorkloadOf(pod)
			if !c.inScope(ns, w) {
				continue
			}
			ctr := s.Labels[lb.Container]
			for _, e := range s.Entries {
				lines = append(lines, LogLine{T: e.T, Namespace: ns, Workload: w, Container: ctr, Line: e.Line, Weight: weight})
			}
		}
	}
	pats := Patterns(lines, 0)
	if len(pats) > MaxLogPatterns {
		pats = pats[:MaxLogPatterns]
	}
	return pats
}

// ---- traces ----

func (c *collector) traces(ctx context.Context) []Trace {
	var targets []Workload
	targets = append(targets, c.all[0])
	for _, n := range c.scope {
		if len(targets) == tracedWorkloads {
			break
		}
		if n.Role == RoleVersion || ((n.Role == RoleCallee || n.Role == RoleBoth) && n.Via == "") {
			targets = append(targets, n.Workload)
		}
	}
	type res struct {
		w     Workload
		isErr bool
		got   []tempo.TraceSummary
	}
	results := make([]res, 2*len(targets))
	var wg sync.WaitGroup
	for i, w := range targets {
		for j, isErr := range []bool{true, false} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := tempo.SearchRequest{Start: c.window.From, End: c.window.To, Limit: 3}
				if isErr {
					req.Q = `{ resource.service.name = ` + promString(w.Workload) + ` && status = error }`
				} else {
					req.Tags = "service.name=" + w.Workload
					req.MinDuration = c.src.SlowTrace
				}
				got, err := c.src.Tempo.Search(ctx, req)
				if err != nil {
					c.fail(SourceTempo, err)
				}
				results[2*i+j] = res{w: w, isErr: isErr, got: got}
			}()
		}
	}
	wg.Wait()
	byID := map[string]int{}
	var out []Trace
	for _, r := range results {
		for _, t := range r.got {
			id := strings.TrimLeft(strings.ToLower(t.TraceID), "0")
			if id == "" {
				continue
			}
			if i, dup := byID[id]; dup {
				out[i].Error = out[i].Error || r.isErr
				continue
			}
			byID[id] = len(out)
			out = append(out, Trace{ID: TraceEvidenceID(id), TraceID: t.TraceID, Service: t.RootServiceName, Workload: r.w.Workload,
				Root: cut(t.RootTraceName, 60), DurationMs: t.DurationMs, Error: r.isErr, Start: t.Start().Truncate(time.Second)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Error != out[j].Error {
			return out[i].Error
		}
		return out[i].DurationMs > out[j].DurationMs
	})
	if len(out) > MaxTraces {
		out = out[:MaxTraces]
	}
	return out
}
