package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/eval"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

func init() {
	commands["eval"] = command{
		summary: "run scenarios end to end on real Prometheus and Loki and score the findings against their ground truth",
		run:     runEval,
	}
}

// scenarioList is a repeatable --scenario flag.
type scenarioList []string

func (s *scenarioList) String() string { return strings.Join(*s, ",") }

func (s *scenarioList) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			*s = append(*s, n)
		}
	}
	return nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var names scenarioList
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage:
  meshwatch eval [--scenario NAME]... [--scenario-file FILE]... [--seed N] [--duration D] [--rules DIR] [--details] [-v]

Runs each scenario (default: every built-in one) on the simulated mesh with its metrics in a real
Prometheus and its logs in a real Loki (the test harness' servers: bash .ci/install-tools.sh),
takes the alerts MeshWatch's rules fired as incidents, collects each incident's evidence
pack, runs the detectors, correlates the incidents, and prints per fault the expected
workload and cause, the top finding and whether it matches; then the top-1 accuracy and
the incidents per fault. A control run (cause none) passes when nothing is found, its
mesh's every workload probed as well.

flags:`)
		fs.PrintDefaults()
	}
	var files scenarioList
	fs.Var(&files, "scenario-file", "a scenario YAML file of one's own, on a built-in topology or a mesh declared in it (repeatable)")
	fs.Var(&names, "scenario", "scenario to run (repeatable, or comma-separated; default: all): "+strings.Join(simulator.ScenarioNames(), ", "))
	seed := fs.Int64("seed", 1, "random seed of every run")
	duration := fs.Duration("duration", 0, "length of each run (default: the scenario's own; effects scale with it)")
	rules := fs.String("rules", "deploy/base/monitoring/rules", "directory of the alert rule files Prometheus evaluates")
	details := fs.Bool("details", false, "also print every incident with its alerts, pack size and findings")
	verbose := fs.Bool("v", false, "print progress to stderr")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meshwatch eval: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	for _, n := range names {
		if _, err := simulator.LookupScenario(n); err != nil {
			fmt.Fprintln(stderr, "meshwatch eval:", err)
			return 2
		}
	}
	var scs []*simulator.Scenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			var sc *simulator.Scenario
			if sc, err = simulator.ParseScenario(b); err == nil {
				scs = append(scs, sc)
				continue
			}
		}
		fmt.Fprintf(stderr, "meshwatch eval: --scenario-file %s: %v\n", f, err)
		return 2
	}
	if *duration < 0 {
		fmt.Fprintln(stderr, "meshwatch eval: --duration must be positive")
		return 2
	}
	o := eval.Options{Scenarios: names, Files: scs, Seed: *seed, Duration: *duration, RulesDir: *rules}
	if *verbose {
		o.Logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	rep, err := eval.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "meshwatch eval:", err)
		return 1
	}
	if *details {
		rep.WriteDetails(stdout)
		fmt.Fprintln(stdout)
	}
	rep.WriteTable(stdout)
	return 0
}
