package harness

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// PrometheusOptions configures StartPrometheus. The zero value is a Prometheus
// with no targets and no rules.
type PrometheusOptions struct {
	// RuleFiles are alerting/recording rule files (absolute or relative to the
	// test's working directory).
	RuleFiles []string
	// ScrapeTargets are host:port targets scraped at /metrics as job "harness".
	ScrapeTargets []string
	// HonorLabels keeps the targets' own job, instance and namespace labels
	// (honor_labels), as the simulator's exposition needs.
	HonorLabels bool
	// ScrapeInterval and EvaluationInterval default to 1s.
	ScrapeInterval     time.Duration
	EvaluationInterval time.Duration
	// Blocks is a directory of TSDB blocks (as made by Backfill) copied into
	// the data directory before start, so their history is queryable.
	Blocks string
	// AlertmanagerURL, when set, is where firing alerts are sent
	// (e.g. an Alertmanager's URL).
	AlertmanagerURL string
	// ExternalLabels are the global external_labels (e.g. replica="a" for
	// one of two HA replicas behind a Thanos sidecar, which needs at least one).
	ExternalLabels map[string]string
	// ExtraFlags are appended to the command line.
	ExtraFlags []string
}

// Prometheus is a running Prometheus v3 server. Lifecycle (/-/reload), the
// admin API and the remote-write receiver are enabled.
type Prometheus struct {
	URL        string // http://127.0.0.1:<port>
	ConfigFile string // prometheus.yml; edit and call Reload to change targets or rules
	DataDir    string
}

// StartPrometheus starts a Prometheus on a random loopback port and waits until
// /-/ready answers. It is stopped in t.Cleanup. Prometheus applies discovered
// targets and Alertmanagers in 5s batches, so the first scrape (and the first
// alert sent) comes about 5s after start; firing alerts are re-sent every
// EvaluationInterval (--rules.alert.resend-delay).
func StartPrometheus(t T, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := RequireBinary(t, BinPrometheus)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mkdirs(t, dir, "data")
	if opts.Blocks != "" {
		if err := copyDir(opts.Blocks, data); err != nil {
			t.Fatalf("harness: copy blocks %s: %v", opts.Blocks, err)
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	cfg, err := prometheusConfig(opts)
	if err != nil {
		t.Fatalf("harness: prometheus config: %v", err)
	}
	writeFile(t, cfgPath, cfg, 0o644)

	flags := []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + data,
		// Backfilled history is older than the default 15d retention allows.
		"--storage.tsdb.retention.time=100y",
		"--web.enable-lifecycle",
		"--web.enable-admin-api",
		"--web.enable-remote-write-receiver",
		"--log.level=info",
	}
	if !hasFlag(opts.ExtraFlags, "--rules.alert.resend-delay") {
		// Alertmanagers are discovered ~5s after start; alerts that fired before
		// then would wait for the default 1m resend.
		flags = append(flags, "--rules.alert.resend-delay="+promDur(durOr(opts.EvaluationInterval, time.Second)))
	}
	flags = append(flags, opts.ExtraFlags...)

	p := &Prometheus{ConfigFile: cfgPath, DataDir: data}
	start(t, func() spec {
		port := freePort(t)
		p.URL = "http://" + addr(port)
		return spec{
			name:    "prometheus",
			bin:     bin,
			dir:     dir,
			args:    append([]string{"--web.listen-address=" + addr(port)}, flags...),
			timeout: 60 * time.Second,
			ready:   httpReady(readyClient, p.URL+"/-/ready", nil),
		}
	})
	return p
}

// Reload makes Prometheus re-read ConfigFile and its rule files.
func (p *Prometheus) Reload(t T) {
	t.Helper()
	resp, err := http.Post(p.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatalf("harness: prometheus reload: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("harness: prometheus reload: %s", resp.Status)
	}
}

func prometheusConfig(o PrometheusOptions) (string, error) {
	scrape := durOr(o.ScrapeInterval, time.Second)
	eval := durOr(o.EvaluationInterval, time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		promDur(scrape), promDur(scrape), promDur(eval))
	if len(o.ExternalLabels) > 0 {
		b.WriteString("  external_labels:\n")
		for _, k := range slices.Sorted(maps.Keys(o.ExternalLabels)) {
			fmt.Fprintf(&b, "    %s: %q\n", k, o.ExternalLabels[k])
		}
	}
	if len(o.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range o.RuleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "  - %q\n", abs)
		}
	}
	if o.AlertmanagerURL != "" {
		u, err := url.Parse(o.AlertmanagerURL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("bad AlertmanagerURL %q", o.AlertmanagerURL)
		}
		scheme := u.Scheme
		if scheme == "" {
			scheme = "http"
		}
		fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - scheme: %s\n      path_prefix: %q\n      timeout: 5s\n      static_configs:\n        - targets: [%q]\n",
			scheme, strings.TrimSuffix(u.Path, "/")+"/", u.Host)
	}
	if len(o.ScrapeTargets) == 0 {
		b.WriteString("scrape_configs: []\n")
		return b.String(), nil
	}
	b.WriteString("scrape_configs:\n  - job_name: harness\n")
	if o.HonorLabels {
		b.WriteString("    honor_labels: true\n")
	}
	b.WriteString("    static_configs:\n      - targets:\n")
	for _, tg := range o.ScrapeTargets {
		fmt.Fprintf(&b, "          - %q\n", tg)
	}
	return b.String(), nil
}

func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

func durOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// promDur renders a duration in Prometheus' format (e.g. 1s, 100ms, 1h30m).
func promDur(d time.Duration) string { return model.Duration(d).String() }

// Backfill turns an OpenMetrics text file (samples with timestamps in seconds,
// ending with "# EOF") into TSDB blocks with
// `promtool tsdb create-blocks-from openmetrics` and returns the blocks
// directory, to be passed as PrometheusOptions.Blocks. Blocks span up to 24h
// (--max-block-duration), so hours or days of history backfill in a few blocks.
func Backfill(t T, openMetricsPath string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "blocks")
	res, err := promtool(t, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", openMetricsPath, out)
	if err != nil {
		t.Fatalf("harness: backfill %s: %v\n%s", openMetricsPath, err, res)
	}
	return out
}

// CheckRules runs `promtool check rules` on the files and returns its
// combined output; err is non-nil when promtool reports a problem.
func CheckRules(t T, files ...string) (string, error) {
	t.Helper()
	return promtool(t, append([]string{"check", "rules"}, files...)...)
}

// TestRules runs `promtool test rules` on the rule test files (their
// rule_files are relative to each test file) and returns its combined output;
// err is non-nil when a test fails.
func TestRules(t T, files ...string) (string, error) {
	t.Helper()
	return promtool(t, append([]string{"test", "rules"}, files...)...)
}

func promtool(t T, args ...string) (string, error) {
	t.Helper()
	bin := RequireBinary(t, BinPromtool)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = os.Environ()
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("promtool %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), err
}
