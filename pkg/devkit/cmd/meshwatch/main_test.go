package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageAndUnknownCommand(t *testing.T) {
	if code, _, stderr := runCLI(); code != 2 || !strings.Contains(stderr, "simulate") {
		t.Errorf("no args: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
}

func TestSimulateList(t *testing.T) {
	code, stdout, _ := runCLI("simulate", "--list")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"healthy", "sidecar-memory-leak", "canary-5xx-regression", "timeout-cascade", "shop/api (istio-proxy)",
		// Scenarios on other meshes, and a second fault on its own line.
		"books-crashloop", "bookstore", "books/checkout v2", "error-regression", "books/search-index (opensearch)",
		"upstream-dependency", "travel", "+ trips/fares (fares)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--list lacks %q:\n%s", want, stdout)
		}
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "two-faults") && !strings.Contains(line, "data/geo (istio-proxy)") {
			t.Errorf("two-faults' first fault: %q", line)
		}
	}
}

func TestSimulateBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"simulate"}, "--scenario is required; valid scenarios: app-oomkill"},
		{[]string{"simulate", "--scenario", "meltdown", "--out", "x"}, `unknown scenario "meltdown"; valid scenarios:`},
		{[]string{"simulate", "--scenario", "healthy"}, "--mode backfill needs --out DIR"},
		{[]string{"simulate", "--scenario", "healthy", "--mode", "live"}, "--mode live needs --listen HOST:PORT"},
		{[]string{"simulate", "--scenario", "healthy", "--mode", "stream", "--out", "x"}, `--mode "stream": valid modes are backfill, live`},
		{[]string{"simulate", "--scenario", "healthy", "--out", "x", "--end", "yesterday"}, "is not RFC3339"},
		{[]string{"simulate", "--scenario", "healthy", "--out", "x", "--duration", "1fortnight"}, "invalid value"},
		{[]string{"simulate", "--scenario", "healthy", "--mode", "live", "--listen", "nope"}, "--listen"},
		{[]string{"simulate", "--scenario", "healthy", "--out", "x", "--loki", "localhost:3100"}, "must be an http(s) URL"},
		{[]string{"simulate", "--scenario", "healthy", "--out", "x", "extra"}, "unexpected arguments: extra"},
		{[]string{"simulate", "--scenario", "healthy", "--scenario-file", "x.yaml", "--out", "x"}, "exclude each other"},
		{[]string{"simulate", "--scenario-file", "/nonexistent.yaml", "--out", "x"}, "--scenario-file /nonexistent.yaml"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want code 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

func TestSimulateBackfill(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI("simulate", "--scenario", "crashloop", "--mode", "backfill", "--out", dir,
		"--duration", "20m", "--seed", "5", "--end", "2026-11-01T20:00:00Z")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "promtool tsdb create-blocks-from openmetrics") {
		t.Errorf("stdout %q", stdout)
	}
	om, err := os.ReadFile(filepath.Join(dir, "metrics.om"))
	if err != nil || !bytes.HasSuffix(om, []byte("# EOF\n")) {
		t.Fatalf("metrics.om: %v", err)
	}
	var truth map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err := json.Unmarshal(b, &truth); err != nil || truth["workload"] != "orders" || truth["causeClass"] != "crashloop" {
		t.Errorf("truth.json %s", b)
	}
	for _, f := range []string{"logs.jsonl", "traces/api/search.json", "k8s"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestSimulateScenarioFile runs a scenario of one's own, on a mesh it
// declares: what an evaluation on meshes MeshWatch has never seen does.
func TestSimulateScenarioFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte(`name: mine
description: ledger slows down
duration: 1h
topology:
  name: bank
  namespace: vault
  services:
    - {name: teller, calls: [ledger]}
    - {name: ledger, namespace: core, kind: StatefulSet}
truth: {workload: ledger, causeClass: latency-regression, affected: [ledger, teller]}
effects: [{kind: latency, target: ledger, at: 30m, magnitude: 400}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if code, _, stderr := runCLI("simulate", "--scenario-file", file, "--out", out, "--duration", "20m", "--end", "2026-11-01T20:00:00Z"); code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	var truth map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "truth.json"))
	if err := json.Unmarshal(b, &truth); err != nil || truth["workload"] != "ledger" || truth["namespace"] != "core" || truth["topology"] != "bank" {
		t.Errorf("truth.json %s", b)
	}
	om, _ := os.ReadFile(filepath.Join(out, "metrics.om"))
	if !bytes.Contains(om, []byte(`destination_workload="ledger",destination_workload_namespace="core"`)) || !bytes.Contains(om, []byte(`pod="ledger-0"`)) {
		t.Error("metrics.om lacks the declared mesh's ledger-0 in core")
	}
}
