package plugin_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// rssKB reads a process's resident set size from /proc (Linux only).
func rssKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// BenchmarkPluginRSS prints the plugin binary's resident memory inside
// Grafana's pod: idle after the handshake, with one app instance (health
// checked, every dependency a closed port or off), and after 50 settings
// saves each followed by a call (50 instances built and disposed), with
// the ratios between them measured in the same run.
//
//	go test ./pkg/plugin -run '^$' -bench PluginRSS -benchtime 1x
func BenchmarkPluginRSS(b *testing.B) {
	t := &testing.T{}
	p, _ := startPlugin(t)
	defer p.Kill()
	pid := p.Pid()
	if pid == 0 {
		b.Skip("the plugin's pid is unknown")
	}
	time.Sleep(500 * time.Millisecond)
	idle, err := rssKB(pid)
	if err != nil {
		b.Skip(err)
	}
	down := "http://127.0.0.1:1"
	ctxFor := func(i int) backend.PluginContext {
		pc := pluginContext(t, map[string]any{
			"prometheus": map[string]any{"url": down, "timeoutSeconds": 1}, "loki": map[string]any{"url": down},
			"tempo": map[string]any{"url": down}, "alertmanager": map[string]any{"url": down},
			"ollama": map[string]any{"url": down}, "kubernetes": map[string]any{"mode": "disabled"},
			"storage": map[string]any{"path": filepath.Join(os.TempDir(), "meshwatch-rss-bench", "mw.db")},
		}, nil)
		pc.AppInstanceSettings.Updated = time.Unix(1700000000+int64(i), 0)
		return pc
	}
	for i := 0; i < b.N; i++ {
		if _, err := p.CheckHealth(context.Background(), ctxFor(0)); err != nil {
			b.Fatal(err)
		}
	}
	one, _ := rssKB(pid)
	for i := 1; i <= 50; i++ {
		if _, err := p.CheckHealth(context.Background(), ctxFor(i)); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(6 * time.Second) // the SDK disposes of replaced instances 5 s later
	saved, _ := rssKB(pid)
	for i := 51; i <= 100; i++ {
		if _, err := p.CheckHealth(context.Background(), ctxFor(i)); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(6 * time.Second)
	saved100, _ := rssKB(pid)
	b.ReportMetric(float64(idle)/1024, "idle-MB")
	b.ReportMetric(float64(one)/1024, "instance-MB")
	b.ReportMetric(float64(saved)/1024, "after-50-saves-MB")
	b.ReportMetric(float64(saved100)/1024, "after-100-saves-MB")
	fmt.Printf("plugin RSS: idle %.1f MB, one instance %.1f MB (%.2fx idle), after 50 saves %.1f MB (%.2fx one instance), after 100 saves %.1f MB (%.2fx after 50)\n",
		float64(idle)/1024, float64(one)/1024, float64(one)/float64(idle), float64(saved)/1024, float64(saved)/float64(one),
		float64(saved100)/1024, float64(saved100)/float64(saved))
	// MESHWATCH_BASELINE_BIN: another build of the plugin (an earlier commit)
	// to compare idle memory with, in the same run.
	if base := os.Getenv("MESHWATCH_BASELINE_BIN"); base != "" {
		bp, err := startBinary(t, base)
		if err != nil {
			b.Fatal(err)
		}
		defer bp.Kill()
		time.Sleep(500 * time.Millisecond)
		if baseIdle, err := rssKB(bp.Pid()); err == nil {
			b.ReportMetric(float64(baseIdle)/1024, "baseline-idle-MB")
			fmt.Printf("baseline %s idle %.1f MB; this build %.2fx\n", base, float64(baseIdle)/1024, float64(idle)/float64(baseIdle))
		}
	}
}
