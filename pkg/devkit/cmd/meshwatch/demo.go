package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/preview"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/devkit/stack"
	"github.com/meshwatch/meshwatch/pkg/devkit/tools"
)

func init() {
	commands["demo"] = command{
		summary: "the whole product on this machine, no Docker: real Prometheus, Alertmanager and Loki, a simulated mesh with a fault and a canary, the plugin behind the preview host",
		run:     runDemo,
	}
}

type demoFlags struct {
	data, listen, ollama, model, role string
	keep                              bool
}

func parseDemoFlags(args []string, stderr io.Writer) (*demoFlags, error) {
	f := &demoFlags{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: meshwatch demo [flags]     (from the repository root)

Brings up MeshWatch on this machine without Docker and prints the URL to open:
  - the pinned Prometheus, Alertmanager, Loki and kube-apiserver: found on PATH or
    in $MESHWATCH_TOOLS (~/.cache/meshwatch/tools), else fetched on the first run
    (official release archives with pinned checksums, or built from the Go module
    proxy by .ci/install-tools.sh);
  - a simulated five-service mesh, live, whose api sidecar leaks memory (its alert
    fires at once: six hours of history are backfilled), and a canary of payments v2
    waiting at its promotion gate;
  - the plugin's real backend (SQLite store) behind the preview host (not Grafana).
Ctrl-C stops everything.

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.data, "data", "", "directory for the demo's settings, SQLite store and logs (default: a new temporary directory, removed on exit)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:3001", "address of the preview host (port 0 picks a free one)")
	fs.StringVar(&f.ollama, "ollama", "", "a real Ollama to write the root-cause write-ups (e.g. http://127.0.0.1:11434); without it the LLM is off: the page says none is configured and shows the deterministic findings")
	fs.StringVar(&f.model, "model", "", "--ollama: the model (default: the settings' phi3:mini)")
	fs.StringVar(&f.role, "role", "Admin", "role of a browser that has not picked one (Viewer, Editor, Admin)")
	fs.BoolVar(&f.keep, "keep", false, "keep the default temporary data directory on exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if f.model != "" && f.ollama == "" {
		return nil, errors.New("--model needs --ollama URL")
	}
	return f, nil
}

// runDemo is `meshwatch demo`.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseDemoFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "meshwatch demo:", err)
		return 2
	}
	if err := demo(ctx, f, stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "meshwatch demo: stopped")
			return 0
		}
		fmt.Fprintln(stderr, "meshwatch demo:", err)
		return 1
	}
	return 0
}

// demo prepares what is missing, then serves until ctx ends.
func demo(ctx context.Context, f *demoFlags, out io.Writer) error {
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	data := f.data
	if data == "" {
		if data, err = os.MkdirTemp("", "meshwatch-demo-"); err != nil {
			return err
		}
		if !f.keep {
			defer func() { _ = os.RemoveAll(data) }()
		}
	} else if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if data, err = filepath.Abs(data); err != nil {
		return err
	}
	logPath := filepath.Join(data, "demo.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(out, "MeshWatch demo — data and logs in %s\n", data)

	// 1. The pinned servers.
	fmt.Fprintln(out, "[1/4] servers: Prometheus, Alertmanager, Loki, kube-apiserver")
	g := &tools.Getter{Dir: harness.ToolsDir(), Script: filepath.Join(root, ".ci", "install-tools.sh"), Out: out}
	if _, err := g.Ensure(ctx, tools.Stack); err != nil {
		return err
	}
	// 2. The plugin's frontend and the preview host page.
	fmt.Fprintln(out, "[2/4] the plugin's pages")
	if err := ensureFrontend(ctx, root, out, logFile); err != nil {
		return err
	}
	// 3. The plugin's backend, built from this checkout.
	fmt.Fprintln(out, "[3/4] the plugin's backend")
	dist, err := pluginDir(ctx, root, data, out, logFile)
	if err != nil {
		return err
	}
	// 4. The stack and the preview host.
	fmt.Fprintln(out, "[4/4] the simulated mesh (six hours of history first, about a minute), Prometheus, Alertmanager, Loki, the kube-apiserver and the plugin")
	sets := []string{"storage.path=" + filepath.Join(data, "meshwatch.db")}
	if f.ollama != "" {
		sets = append(sets, "ollama.url="+f.ollama)
		if f.model != "" {
			sets = append(sets, "ollama.model="+f.model)
		}
	} else {
		// No model: the LLM is switched off, so the pages say that none is
		// configured and the deterministic findings stand alone.
		sets = append(sets, "ollama.disabled=true")
	}
	role := preview.Role(f.role)
	if role != preview.Viewer && role != preview.Editor && role != preview.Admin {
		return fmt.Errorf("--role %q: want Viewer, Editor or Admin", f.role)
	}
	cfg := preview.Config{
		Listen: f.listen, Dist: dist,
		HostDir:      filepath.Join(root, "tests", "preview", "host", "dist"),
		Provisioning: filepath.Join(root, "provisioning", "plugins", "apps.yaml"),
		SettingsFile: filepath.Join(data, "settings.json"),
		Sets:         sets, DefaultRole: role,
		Stack: stack.DemoScenario, StackRules: filepath.Join(root, "deploy", "base", "monitoring", "rules"),
		StackEval: 5 * time.Second, // as the preview suite: the restored alerts are re-evaluated at once
		TokenFile: filepath.Join(data, "service-account-token"),
	}
	banner := &bannerWriter{log: logFile, out: out, began: began, ollama: f.ollama, logPath: logPath, world: demoWorld()}
	stop := progressTicker(out, "      starting", 15*time.Second)
	banner.onReady = stop
	err = preview.Run(ctx, cfg, banner, logFile)
	stop()
	if ctx.Err() != nil {
		fmt.Fprintln(out, "\nmeshwatch demo: stopping; every server stopped, nothing left running")
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return nil
}

// repoRoot is the checkout the demo runs from: the working directory or
// a parent holding this module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/meshwatch/meshwatch\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run meshwatch demo inside the MeshWatch checkout (no go.mod of github.com/meshwatch/meshwatch above %s)", dir)
		}
	}
}

// frontendFiles are what the preview host serves of the build.
var frontendFiles = []string{"dist/plugin.json", "dist/module.js", "tests/preview/host/dist/index.html", "tests/preview/host/dist/host.js"}

// ensureFrontend builds the plugin's frontend and the preview host page
// with npm when they are missing.
func ensureFrontend(ctx context.Context, root string, out, log io.Writer) error {
	var missing []string
	for _, f := range frontendFiles {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		st, _ := os.Stat(filepath.Join(root, "dist", "module.js"))
		fmt.Fprintf(out, "  built pages found (dist/, %s); rebuild with npm run build && npm run preview:build\n", st.ModTime().Format("2006-01-02 15:04"))
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("%s missing and npm is not on PATH: install Node.js 22+, then npm ci && npm run build && npm run preview:build", strings.Join(missing, ", "))
	}
	steps := [][]string{{"npm", "run", "build"}, {"npm", "run", "preview:build"}}
	if _, err := os.Stat(filepath.Join(root, "node_modules")); err != nil {
		steps = append([][]string{{"npm", "ci"}}, steps...)
	}
	fmt.Fprintf(out, "  %s missing: building them (about 3 minutes on 2 cores, npm ci adds 1–2)\n", strings.Join(missing, ", "))
	for _, s := range steps {
		if err := runStep(ctx, root, out, log, s...); err != nil {
			return err
		}
	}
	return nil
}

// pluginDir builds the backend from this checkout into data/plugin and
// links the built frontend beside it, so the demo never overwrites dist/.
func pluginDir(ctx context.Context, root, data string, out, log io.Writer) (string, error) {
	dir := filepath.Join(data, "plugin")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	exe := fmt.Sprintf("gpx_mesh_%s_%s", runtime.GOOS, runtime.GOARCH)
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	entries, err := os.ReadDir(filepath.Join(root, "dist"))
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "gpx_mesh_") {
			continue
		}
		if err := os.Symlink(filepath.Join(root, "dist", e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return "", err
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		prebuilt := filepath.Join(root, "dist", exe)
		if _, serr := os.Stat(prebuilt); serr != nil {
			return "", fmt.Errorf("go is not on PATH and %s is missing", prebuilt)
		}
		fmt.Fprintf(out, "  go is not on PATH: using the built %s\n", prebuilt)
		return dir, os.Symlink(prebuilt, filepath.Join(dir, exe))
	}
	fmt.Fprintln(out, "  go build ./pkg (seconds with a warm build cache, 2–4 minutes without)")
	return dir, runStep(ctx, root, out, log, "go", "build", "-o", filepath.Join(dir, exe), "./pkg")
}

// runStep runs a command in root, its output to log, saying on out what
// runs and, every 15 seconds, for how long.
func runStep(ctx context.Context, root string, out, log io.Writer, args ...string) error {
	t0 := time.Now()
	fmt.Fprintf(out, "  $ %s\n", strings.Join(args, " "))
	var tail bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = root
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	tools.StopGroupOnCancel(cmd) // npm's webpack, go's compilers: all of it stops on Ctrl-C or SIGTERM
	stop := progressTicker(out, "    running", 15*time.Second)
	err := cmd.Run()
	stop()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, lastLines(tail.String(), 20))
	}
	fmt.Fprintf(out, "    done in %s\n", time.Since(t0).Round(time.Second))
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// progressTicker prints "<what>: <elapsed>" every interval until the
// returned stop is called (stop may be called more than once).
func progressTicker(out io.Writer, what string, every time.Duration) func() {
	t0 := time.Now()
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(out, "%s: %s\n", what, time.Since(t0).Round(time.Second))
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// world names what the demo's scenario runs, for the banner (read from
// the simulator's scenarios, never spelled here).
type world struct{ fault, where, canary string }

func demoWorld() world {
	w := world{fault: stack.DemoFault, where: "a workload", canary: "a canary"}
	if sc, err := simulator.LookupScenario(stack.DemoFault); err == nil {
		w.fault = sc.Truth.CauseClass
		w.where = sc.Truth.Namespace + "/" + sc.Truth.Workload
		if sc.Truth.Container != "" {
			w.where += " (container " + sc.Truth.Container + ")"
		}
	}
	if sc, err := simulator.LookupScenario(stack.DemoRollout); err == nil {
		for _, e := range sc.Effects {
			if e.Kind == simulator.CanaryProgression {
				w.canary = "the canary of " + e.Target + " " + e.Version
			}
		}
	}
	return w
}

// readyLine is the preview host's line with its address.
var readyLine = regexp.MustCompile(`not Grafana — (http://\S+)`)

// bannerWriter takes the preview host's stdout: its detail lines go to the
// log, its address line becomes the demo's "open this" banner.
type bannerWriter struct {
	log, out        io.Writer
	began           time.Time
	ollama, logPath string
	world           world
	onReady         func()
	buf             []byte
	mu              sync.Mutex
}

func (b *bannerWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	for {
		i := bytes.IndexByte(b.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(b.buf[:i])
		b.buf = b.buf[i+1:]
		_, _ = fmt.Fprintln(b.log, line)
		if m := readyLine.FindStringSubmatch(line); m != nil {
			if b.onReady != nil {
				b.onReady()
			}
			b.banner(m[1])
		}
	}
}

func (b *bannerWriter) banner(url string) {
	llm := "no Ollama given (--ollama URL): no LLM is configured, so the page shows the deterministic findings and says so"
	signoff := ""
	if b.ollama != "" {
		llm = "write-ups from the Ollama at " + b.ollama
		signoff = "  - sign-off: approve or reject the write-up's root cause with a comment (as Editor or Admin); the audit trail records it\n"
	}
	w := bufio.NewWriter(b.out)
	fmt.Fprintf(w, `
MeshWatch demo ready in %s — open %s
  (the preview host: MeshWatch's pages on its real backend, not Grafana; pick Viewer, Editor or Admin at the top)

  What you will see:
  - Incidents: the %s alert firing on %s, its incident opened by the real Alertmanager (within a minute or two)
  - the incident: its evidence, the ranked findings (%s first), the write-up beneath them
    (%s)
%s  - Canaries: %s, waiting at its promotion gate for your sign-off (as Editor or Admin, with a comment the audit trail records)

  Logs: %s
  Ctrl-C stops everything.
`, time.Since(b.began).Round(time.Second), url, b.world.fault, b.world.where, b.world.fault, llm, signoff, b.world.canary, b.logPath)
	_ = w.Flush()
}
