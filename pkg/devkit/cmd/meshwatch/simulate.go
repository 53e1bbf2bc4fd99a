package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

type simulateFlags struct {
	scenario, file, mode, out, end, listen, loki, tenant string
	sc                                                   *simulator.Scenario // the scenario to run
	duration, step, resolution                           time.Duration
	seed                                                 int64
	list                                                 bool
	logSample                                            int
}

func parseSimulateFlags(args []string, stderr io.Writer) (*simulateFlags, error) {
	f := &simulateFlags{}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage:
  meshwatch simulate --list
  meshwatch simulate --scenario NAME --mode backfill --out DIR [--duration 6h] [--seed N] [--end RFC3339] [--loki URL]
  meshwatch simulate --scenario NAME --mode live --listen 127.0.0.1:PORT [--loki URL] [--duration 6h] [--seed N]
  meshwatch simulate --scenario-file FILE ...   (a scenario of your own, on its own mesh: see the simulator's Topology)

flags:`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.scenario, "scenario", "", "scenario name (see --list)")
	fs.StringVar(&f.file, "scenario-file", "", "a scenario YAML file instead of a built-in one (its topology a built-in one's name or declared in it)")
	fs.StringVar(&f.mode, "mode", "backfill", "backfill (write files) or live (serve /metrics, push logs)")
	fs.StringVar(&f.out, "out", "", "backfill: output directory (metrics.om, logs.jsonl, traces/, k8s/, truth.json)")
	fs.DurationVar(&f.duration, "duration", 0, "length of the run (default: the scenario's, 6h); effect offsets scale with it")
	fs.Int64Var(&f.seed, "seed", 1, "random seed: the same scenario, seed, end and duration give identical output")
	fs.StringVar(&f.end, "end", "", "backfill: end of the history, RFC3339 (default: now)")
	fs.DurationVar(&f.step, "step", simulator.DefaultStep, "tick (scrape) interval; must divide a minute")
	fs.DurationVar(&f.resolution, "resolution", 30*time.Second, "backfill: sample spacing in metrics.om (a multiple of --step; 15s doubles the file)")
	fs.StringVar(&f.listen, "listen", "", "live: address to serve /metrics on, e.g. 127.0.0.1:9464")
	fs.StringVar(&f.loki, "loki", "", "Loki base URL to push logs to (live: as they happen; backfill: with their own timestamps)")
	fs.StringVar(&f.tenant, "loki-tenant", "", "X-Scope-OrgID for a multi-tenant Loki")
	fs.IntVar(&f.logSample, "log-sample", 20, "log 1 in N successful requests per service (errors are always logged)")
	fs.BoolVar(&f.list, "list", false, "list the scenarios with their ground truth and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s (flags go before nothing: use --scenario NAME)", strings.Join(fs.Args(), " "))
	}
	if f.list {
		return f, nil
	}
	var errs []error
	switch {
	case f.scenario != "" && f.file != "":
		errs = append(errs, errors.New("--scenario and --scenario-file exclude each other"))
	case f.file != "":
		b, err := os.ReadFile(f.file)
		if err == nil {
			f.sc, err = simulator.ParseScenario(b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--scenario-file %s: %w", f.file, err))
		}
	case f.scenario == "":
		errs = append(errs, fmt.Errorf("--scenario is required; valid scenarios: %s", strings.Join(simulator.ScenarioNames(), ", ")))
	default:
		sc, err := simulator.LookupScenario(f.scenario)
		if err != nil {
			errs = append(errs, err)
		}
		f.sc = sc
	}
	if f.step <= 0 || f.resolution < f.step || f.resolution%f.step != 0 {
		errs = append(errs, fmt.Errorf("--resolution %s must be a multiple of --step %s", f.resolution, f.step))
	}
	if f.duration < 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if f.logSample < 1 {
		errs = append(errs, errors.New("--log-sample must be at least 1"))
	}
	if f.loki != "" && !strings.HasPrefix(f.loki, "http://") && !strings.HasPrefix(f.loki, "https://") {
		errs = append(errs, fmt.Errorf("--loki %q must be an http(s) URL, e.g. http://127.0.0.1:3100", f.loki))
	}
	switch f.mode {
	case "backfill":
		if f.out == "" {
			errs = append(errs, errors.New("--mode backfill needs --out DIR"))
		}
		if f.listen != "" {
			errs = append(errs, errors.New("--listen is for --mode live"))
		}
		if f.end != "" {
			if _, err := time.Parse(time.RFC3339, f.end); err != nil {
				errs = append(errs, fmt.Errorf("--end %q is not RFC3339 (e.g. 2026-11-01T12:00:00Z)", f.end))
			}
		}
	case "live":
		if f.listen == "" {
			errs = append(errs, errors.New("--mode live needs --listen HOST:PORT"))
		} else if _, _, err := net.SplitHostPort(f.listen); err != nil {
			errs = append(errs, fmt.Errorf("--listen %q: %v", f.listen, err))
		}
		if f.out != "" || f.end != "" {
			errs = append(errs, errors.New("--out and --end are for --mode backfill"))
		}
	default:
		errs = append(errs, fmt.Errorf("--mode %q: valid modes are backfill, live", f.mode))
	}
	return f, errors.Join(errs...)
}

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseSimulateFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch simulate: %v\n", err)
		return 2
	}
	if f.list {
		listScenarios(stdout)
		return 0
	}
	sc := f.sc
	opts := simulator.Options{Scenario: sc, Seed: f.seed, Duration: f.duration, Step: f.step, LogSampleEvery: f.logSample}
	if f.mode == "backfill" {
		opts.Resolution = f.resolution
	}
	var pusher *simulator.LokiPusher
	if f.loki != "" {
		pusher = &simulator.LokiPusher{URL: f.loki, TenantID: f.tenant}
	}
	if f.mode == "live" {
		return runLive(ctx, f, opts, pusher, stdout, stderr)
	}
	if f.end != "" {
		opts.End, _ = time.Parse(time.RFC3339, f.end)
	}
	began := time.Now()
	res, err := simulator.Backfill(ctx, opts, f.out)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch simulate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "scenario %s, seed %d, %s .. %s: %d series, %d samples, %d log lines, %d traces, %d objects in %s\n",
		sc.Name, f.seed, res.Truth.Start.Format(time.RFC3339), res.Truth.End.Format(time.RFC3339),
		res.Series, res.Samples, res.LogLines, res.Traces, res.Objects, time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(stdout, "wrote %s/{metrics.om,logs.jsonl,traces/,k8s/,truth.json}\n", f.out)
	fmt.Fprintf(stdout, "load the metrics: promtool tsdb create-blocks-from openmetrics %s/metrics.om <prometheus-data-dir>\n", f.out)
	if pusher != nil {
		if err := pusher.Push(ctx, res.Logs); err != nil {
			fmt.Fprintf(stderr, "meshwatch simulate: pushing logs to %s: %v\n", f.loki, err)
			return 1
		}
		fmt.Fprintf(stdout, "pushed %d log lines to %s\n", res.LogLines, f.loki)
	}
	return 0
}

func runLive(ctx context.Context, f *simulateFlags, opts simulator.Options, pusher *simulator.LokiPusher, stdout, stderr io.Writer) int {
	live, err := simulator.NewLive(opts)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch simulate: %v\n", err)
		return 1
	}
	live.Pusher = pusher
	live.Errors = make(chan error, 1)
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch simulate: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: live, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	gt := live.Engine().Truth()
	fmt.Fprintf(stdout, "scenario %s (seed %d) live from %s: serving http://%s/metrics", f.scenario, f.seed, gt.Start.Format(time.RFC3339), ln.Addr())
	if pusher != nil {
		fmt.Fprintf(stdout, ", pushing logs to %s", f.loki)
	}
	fmt.Fprintln(stdout)
	go func() {
		for err := range live.Errors {
			fmt.Fprintf(stderr, "meshwatch simulate: %v\n", err)
		}
	}()
	_ = live.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return 0
}

func listScenarios(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMESH\tROOT CAUSE\tCAUSE CLASS\tONSET\tDESCRIPTION")
	for _, s := range simulator.Scenarios() {
		faults := s.Truth.Faults()
		desc := s.Description
		if i := strings.Index(desc, ". "); i > 0 {
			desc = desc[:i]
		}
		if len(desc) > 90 {
			desc = desc[:87] + "..."
		}
		if len(faults) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\t-\t%s\n", s.Name, s.TopologyName(), s.Truth.CauseClass, desc)
			continue
		}
		// One line per fault: a scenario with several at once lists the
		// others below its first (each is its own incident).
		for i, f := range faults {
			root := f.Namespace + "/" + f.Workload
			if f.Container != "" {
				root += " (" + f.Container + ")"
			}
			if f.Version != "" {
				root += " " + f.Version
			}
			onset := fmt.Sprintf("+%s of %s", faultOnset(s, i, f), time.Duration(s.Duration))
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.TopologyName(), root, f.CauseClass, onset, desc)
			} else {
				fmt.Fprintf(tw, "\t\t+ %s\t%s\t%s\t\n", root, f.CauseClass, onset)
			}
		}
	}
	tw.Flush()
}

// faultOnset is the offset of a scenario's i-th fault (f): its own onset,
// or the start of the first effect (on its workload, for an additional one).
func faultOnset(s *simulator.Scenario, i int, f simulator.Fault) time.Duration {
	if f.Onset > 0 {
		return time.Duration(f.Onset) + time.Duration(f.OnsetDelay)
	}
	for _, e := range s.Effects {
		if i == 0 || e.Target == f.Workload || e.Source == f.Workload {
			return time.Duration(e.At) + time.Duration(e.Delay)
		}
	}
	return 0
}
