package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

func init() {
	commands["investigate"] = command{
		summary: "collect an alert's evidence pack from Prometheus, Loki and Tempo and print it with the ranked findings",
		run:     runInvestigate,
	}
}

// investigateOutput is what --json prints.
type investigateOutput struct {
	Evidence evidence.Pack      `json:"evidence"`
	Findings []findings.Finding `json:"findings"`
}

func runInvestigate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("investigate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage:
  meshwatch investigate --prometheus URL [--loki URL] [--tempo URL] --alert FILE [--at RFC3339] [--json]

FILE ("-": standard input) is an Alertmanager webhook payload (version 4) or a JSON list
of alerts ({"labels", "annotations", "startsAt", "endsAt", "status"}). The alerts are
grouped by namespace and workload as MeshWatch groups incidents; the incident with the
most alerts is investigated. Its evidence pack is collected as of --at (default: now;
an earlier instant investigates history) and the detectors' findings ranked. --json prints
{"evidence": <pack>, "findings": [{"namespace", "workload", "cause", "score",
"explanation", "evidence": [ids]}]}; the pack is the full one, so every id a finding
cites is in it. A source that fails makes the pack partial ("partial" names it, and
stderr says so); the exit code stays 0. Exit 2: bad flags or alerts.

flags:`)
		fs.PrintDefaults()
	}
	promURL := fs.String("prometheus", "", "Prometheus base URL (required), e.g. http://127.0.0.1:9090")
	lokiURL := fs.String("loki", "", "Loki base URL (optional)")
	tempoURL := fs.String("tempo", "", "Tempo base URL (optional)")
	alertFile := fs.String("alert", "", "the alerts: an Alertmanager webhook payload or a JSON list of alerts (required)")
	atFlag := fs.String("at", "", "evaluate as of this instant, RFC3339 (default: now)")
	asJSON := fs.Bool("json", false, `print {"evidence": …, "findings": […]} as JSON`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if *promURL == "" {
		errs = append(errs, errors.New("--prometheus is required"))
	}
	for name, u := range map[string]string{"--prometheus": *promURL, "--loki": *lokiURL, "--tempo": *tempoURL} {
		if u != "" {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				errs = append(errs, fmt.Errorf("%s %q must be an http(s) URL, e.g. http://127.0.0.1:9090", name, u))
			}
		}
	}
	if *alertFile == "" {
		errs = append(errs, errors.New("--alert FILE is required"))
	}
	now := time.Now().UTC()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			errs = append(errs, fmt.Errorf("--at %q is not an RFC3339 time (e.g. 2026-10-30T14:05:00Z)", *atFlag))
		}
		now = t.UTC()
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(stderr, "meshwatch investigate:", err)
		}
		return 2
	}
	body, err := readInput(*alertFile)
	if err != nil {
		fmt.Fprintln(stderr, "meshwatch investigate:", err)
		return 2
	}
	alerts, err := ParseAlerts(body, now)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch investigate: %s: %v\n", *alertFile, err)
		return 2
	}
	inc, others := Subject(alerts)
	if len(others) > 0 {
		fmt.Fprintf(stderr, "meshwatch investigate: investigating %s (%d alerts); left out %d alerts about other workloads: %s\n",
			inc.Namespace+"/"+inc.Workload, len(inc.Alerts), countAlerts(others), strings.Join(keysOf(others), ", "))
	}

	src, closeAll, err := investigateSources(*promURL, *lokiURL, *tempoURL)
	if err != nil {
		fmt.Fprintln(stderr, "meshwatch investigate:", err)
		return 2
	}
	defer closeAll()
	pack := evidence.Collect(ctx, src, inc, now)
	fsd := findings.Detect(&pack)
	if fsd == nil {
		fsd = []findings.Finding{}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(investigateOutput{Evidence: pack, Findings: fsd}); err != nil {
			fmt.Fprintln(stderr, "meshwatch investigate:", err)
			return 1
		}
	} else {
		writeInvestigation(stdout, &pack, fsd)
	}
	for _, p := range pack.Partial {
		fmt.Fprintf(stderr, "meshwatch investigate: partial pack (%s failed; investigate again later): %s\n", p.Source, p.Error)
	}
	return 0
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, intake.DefaultLimit+1))
	}
	return os.ReadFile(name)
}

// wireAlert is one alert of a JSON list, as Alertmanager's API and webhook
// write it.
type wireAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	Status       json.RawMessage   `json:"status"`
	GeneratorURL string            `json:"generatorURL"`
}

// ParseAlerts reads an Alertmanager webhook payload (an object with
// "alerts"), or a JSON list of alerts (labels, annotations, startsAt,
// optionally endsAt and status "firing"/"resolved", or Alertmanager API's
// status object), into the alert model. now bounds startsAt (the sender's
// clock may not run ahead of it).
func ParseAlerts(body []byte, now time.Time) ([]incident.Alert, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("the file is empty")
	}
	if trimmed[0] == '{' {
		var probe struct {
			Alerts json.RawMessage `json:"alerts"`
		}
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		if probe.Alerts == nil {
			// One alert on its own.
			trimmed = append(append([]byte{'['}, trimmed...), ']')
		} else {
			p, err := intake.DecodeAlertmanager(trimmed, now)
			if err != nil {
				return nil, fmt.Errorf("as an Alertmanager webhook payload: %w", err)
			}
			for _, r := range p.Rejected {
				return nil, fmt.Errorf("alert %d (%s): %s", r.Index, r.Alertname, r.Reason)
			}
			if len(p.Alerts) == 0 {
				return nil, errors.New("the payload has no alerts")
			}
			return p.Alerts, nil
		}
	}
	var list []wireAlert
	if err := json.Unmarshal(trimmed, &list); err != nil {
		return nil, fmt.Errorf("neither an Alertmanager webhook payload nor a JSON list of alerts: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("the list has no alerts")
	}
	out := make([]incident.Alert, 0, len(list))
	for i, w := range list {
		status := incident.StatusFiring
		if len(w.Status) > 0 {
			var s string
			var obj struct {
				State string `json:"state"`
			}
			switch {
			case json.Unmarshal(w.Status, &s) == nil:
				status = incident.Status(s)
			case json.Unmarshal(w.Status, &obj) == nil && obj.State != "":
				// Alertmanager's API: {"state": "active" | "suppressed" | "unprocessed"}.
				status = incident.StatusFiring
			default:
				return nil, fmt.Errorf("alert %d: status must be \"firing\" or \"resolved\"", i)
			}
		}
		if !w.EndsAt.IsZero() && w.EndsAt.Before(now) && len(w.Status) == 0 {
			status = incident.StatusResolved
		}
		if w.StartsAt.IsZero() {
			return nil, fmt.Errorf("alert %d has no startsAt", i)
		}
		if w.StartsAt.After(now.Add(intake.MaxClockSkew)) {
			return nil, fmt.Errorf("alert %d starts at %s, after --at %s", i, w.StartsAt.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		a := incident.Alert{Labels: w.Labels, Annotations: w.Annotations, StartsAt: w.StartsAt, EndsAt: w.EndsAt, Status: status,
			GeneratorURL: w.GeneratorURL, Source: incident.SourceAlertmanager}
		a.Fingerprint = incident.FingerprintOf(a.Labels)
		n, err := incident.Normalize(a)
		if err != nil {
			return nil, fmt.Errorf("alert %d: %w", i, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Subject groups the alerts as MeshWatch groups incidents and returns the
// incident with the most alerts (the first in the file on a tie), and the
// others' alerts by key.
func Subject(alerts []incident.Alert) (evidence.Incident, map[string][]incident.Alert) {
	var g incident.Grouping
	by := map[string][]incident.Alert{}
	keyOf := map[string]incident.Key{}
	var order []string
	for _, a := range alerts {
		k := g.Of(a.Labels)
		s := k.String()
		if _, ok := by[s]; !ok {
			order = append(order, s)
			keyOf[s] = k
		}
		by[s] = append(by[s], a)
	}
	best := order[0]
	for _, s := range order[1:] {
		if len(by[s]) > len(by[best]) {
			best = s
		}
	}
	k := keyOf[best]
	inc := evidence.Incident{Namespace: k.Namespace, Workload: k.Workload, Alerts: by[best]}
	resolved := true
	for _, a := range inc.Alerts {
		if a.Status != incident.StatusResolved {
			resolved = false
		} else if a.EndsAt.After(inc.EndsAt) {
			inc.EndsAt = a.EndsAt
		}
	}
	if !resolved {
		inc.EndsAt = time.Time{}
	}
	delete(by, best)
	return inc, by
}

func countAlerts(m map[string][]incident.Alert) int {
	n := 0
	for _, as := range m {
		n += len(as)
	}
	return n
}

func keysOf(m map[string][]incident.Alert) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func investigateSources(promURL, lokiURL, tempoURL string) (evidence.Sources, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	p, err := prometheus.New(settings.Endpoint{URL: promURL, TimeoutSeconds: 30})
	if err != nil {
		return evidence.Sources{}, nil, err
	}
	closers = append(closers, p.Close)
	src := evidence.Sources{Prometheus: p.API(), Timeout: 30 * time.Second}
	if lokiURL != "" {
		l, err := loki.New(settings.Endpoint{URL: lokiURL, TimeoutSeconds: 30})
		if err != nil {
			closeAll()
			return evidence.Sources{}, nil, err
		}
		closers = append(closers, l.Close)
		src.Loki = l
	}
	if tempoURL != "" {
		t, err := tempo.New(settings.Endpoint{URL: tempoURL, TimeoutSeconds: 30})
		if err != nil {
			closeAll()
			return evidence.Sources{}, nil, err
		}
		closers = append(closers, t.Close)
		src.Tempo = t
	}
	return src, closeAll, nil
}

// writeInvestigation prints the findings, then the pack's items.
func writeInvestigation(w io.Writer, p *evidence.Pack, fs []findings.Finding) {
	fmt.Fprintf(w, "incident %s, window %s → %s", p.Subject, p.Window.From.Format(time.RFC3339), p.Window.To.Format(time.RFC3339))
	if p.Window.RuleFor > 0 {
		fmt.Fprintf(w, " (rule for %s)", p.Window.RuleFor)
	}
	fmt.Fprintln(w)
	if len(p.Partial) > 0 {
		for _, s := range p.Partial {
			fmt.Fprintf(w, "partial: %s: %s\n", s.Source, s.Error)
		}
	}
	fmt.Fprintln(w, "\nfindings:")
	if len(fs) == 0 {
		fmt.Fprintf(w, "  none (no detector scored %.2f or more)\n", findings.Threshold)
	}
	for i, f := range fs {
		fmt.Fprintf(w, "  %d. %.2f %s %s/%s\n     %s\n     evidence: %s\n", i+1, f.Score, f.Cause, f.Namespace, f.Workload, f.Explanation, strings.Join(f.Evidence, " "))
	}
	if len(p.Scope) > 0 {
		var ns []string
		for _, n := range p.Scope {
			s := n.Workload.String() + " (" + string(n.Role)
			if n.Via != "" {
				s += " via " + n.Via
			}
			ns = append(ns, s+")")
		}
		fmt.Fprintf(w, "\nscope: %s\n", strings.Join(ns, ", "))
	}
	fmt.Fprintf(w, "\nevidence (%d metrics, %d log patterns, %d traces; %d bytes of JSON):\n", len(p.Metrics), len(p.Logs), len(p.Traces), len(p.JSON()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tKIND\tWORKLOAD\tBASELINE\tWINDOW\tMAX\tLAST\tCHANGE\tTIME TO LIMIT")
	for _, m := range p.Metrics {
		what := m.Namespace + "/" + m.Workload
		if m.Peer != "" {
			what += " → " + m.Peer
		}
		if m.Container != "" {
			what += " [" + m.Container + "]"
		}
		if len(m.Detail) > 0 {
			var d []string
			for _, k := range sortedDetail(m.Detail) {
				d = append(d, k+"="+m.Detail[k])
			}
			what += " {" + strings.Join(d, ",") + "}"
		}
		base := "-"
		if m.Baseline != nil {
			base = num(*m.Baseline)
		}
		change := "-"
		if m.ChangeAt != nil {
			change = m.ChangeAt.Format("15:04:05")
			if m.After != nil {
				change += " → " + num(*m.After)
			}
		}
		ttl := "-"
		if m.TimeToLimit != nil {
			ttl = m.TimeToLimit.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Kind, what, base, num(m.Window), num(m.Max), num(m.Last), change, ttl)
	}
	tw.Flush()
	for _, l := range p.Logs {
		fmt.Fprintf(w, "  %s  %s/%s [%s] ×%d %s–%s: %s\n", l.ID, l.Namespace, l.Workload, l.Container, l.Count,
			l.First.Format("15:04:05"), l.Last.Format("15:04:05"), l.Pattern)
	}
	for _, t := range p.Traces {
		kind := "slow"
		if t.Error {
			kind = "error"
		}
		fmt.Fprintf(w, "  %s  %s trace %s of %s: %s %d ms at %s\n", t.ID, kind, t.TraceID, t.Workload, t.Root, t.DurationMs, t.Start.Format("15:04:05"))
	}
	if p.Dropped != nil {
		fmt.Fprintf(w, "  (left out: %d metrics, %d log patterns, %d traces, %d neighbours)\n", p.Dropped.Metrics, p.Dropped.Logs, p.Dropped.Traces, p.Dropped.Scope)
	}
}

func sortedDetail(d map[string]string) []string {
	ks := make([]string, 0, len(d))
	for k := range d {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func num(v float64) string { return fmt.Sprintf("%.3g", v) }
