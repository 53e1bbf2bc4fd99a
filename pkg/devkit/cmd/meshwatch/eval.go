package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/eval"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/settings"
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
                 [--ollama URL [--model M] [--num-ctx N] [--num-predict N] [--timeout D] [--allow-external]
                  [--injection] [--packs DIR]]

Runs each scenario (default: every built-in one) on the simulated mesh with its metrics in a real
Prometheus and its logs in a real Loki (the test harness' servers: bash .ci/install-tools.sh),
takes the alerts MeshWatch's rules fired as incidents, collects each incident's evidence
pack, runs the detectors, correlates the incidents, and prints per fault the expected
workload and cause, the top finding and whether it matches; then the top-1 accuracy and
the incidents per fault. A control run (cause none) passes when nothing is found, its
mesh's every workload probed as well.

With --ollama, each fault's incident (and each control run's) is then analysed end to end
by that Ollama server's model, as the incident page would (pkg/analysis: prompt, schema,
budget, stream, guard), and scored against the ground truth: JSON validity %, root-cause
accuracy, unsupported claims, p50/p95 latency, prompt and output tokens. --injection also
sends each incident again with injection text in its log lines and counts the answers
that keep the same root cause. --packs DIR skips the simulation and analyses the
scenarios captured in DIR (pkg/analysis/testdata/packs: packs, findings and ground
truth saved once from real runs).

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
	llmDefaults := settings.Defaults().Ollama
	ollamaURL := fs.String("ollama", "", "also analyse each incident with the model on this Ollama server (e.g. http://127.0.0.1:11434)")
	model := fs.String("model", llmDefaults.Model, "the Ollama model (with --ollama)")
	numCtx := fs.Int("num-ctx", llmDefaults.NumCtx, "options.num_ctx (with --ollama)")
	numPredict := fs.Int("num-predict", llmDefaults.NumPredict, "options.num_predict (with --ollama)")
	llmTimeout := fs.Duration("timeout", time.Duration(llmDefaults.TimeoutSeconds)*time.Second, "timeout of one analysis request, streamed answer included (with --ollama)")
	injection := fs.Bool("injection", false, "also analyse each incident with prompt injection in its logs and count unchanged root causes (with --ollama)")
	packs := fs.String("packs", "", "analyse the captured scenarios in this directory instead of running the simulation (with --ollama), e.g. pkg/analysis/testdata/packs")
	allowExternal := fs.Bool("allow-external", false, "allow an Ollama address outside loopback, private, tailnet and cluster-local ranges (with --ollama)")
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
	var llm *settings.LLM
	if *ollamaURL != "" {
		s := settings.Defaults()
		s.Ollama.URL, s.Ollama.Model, s.Ollama.NumCtx, s.Ollama.NumPredict = *ollamaURL, *model, *numCtx, *numPredict
		s.Ollama.TimeoutSeconds, s.Ollama.AllowExternal = int(llmTimeout.Seconds()), *allowExternal
		if errs := s.Validate(); errs != nil {
			for _, e := range errs {
				if strings.HasPrefix(e.Field, "ollama.") {
					fmt.Fprintln(stderr, "meshwatch eval:", e.Error())
					return 2
				}
			}
		}
		llm = &s.Ollama
	}
	if llm == nil && (*packs != "" || *injection) {
		fmt.Fprintln(stderr, "meshwatch eval: --packs and --injection need --ollama")
		return 2
	}
	var logf func(string, ...any)
	if *verbose {
		logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	analyse := func(inputs []eval.LLMInput) int {
		if *injection {
			inputs = eval.WithInjection(inputs)
		}
		lr, err := eval.AnalyzeCases(ctx, *llm, inputs, logf)
		if err != nil {
			fmt.Fprintln(stderr, "meshwatch eval:", err)
			return 1
		}
		lr.WriteTable(stdout)
		return 0
	}
	if *packs != "" {
		files, err := filepath.Glob(filepath.Join(*packs, "*.json"))
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("no *.json in %s", *packs)
		}
		var inputs []eval.LLMInput
		if err == nil {
			inputs, err = eval.ReadLLMInputs(files)
		}
		if err != nil {
			fmt.Fprintln(stderr, "meshwatch eval: --packs:", err)
			return 2
		}
		return analyse(inputs)
	}
	o := eval.Options{Scenarios: names, Files: scs, Seed: *seed, Duration: *duration, RulesDir: *rules, Logf: logf}
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
	if llm != nil {
		fmt.Fprintln(stdout)
		return analyse(eval.LLMInputs(rep))
	}
	return 0
}
