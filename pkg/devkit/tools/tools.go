// Package tools finds, and on first use gets, the pinned real servers the
// development kit runs (Prometheus and promtool, Alertmanager, Loki,
// kube-apiserver, etcd): the same versions .ci/install-tools.sh installs,
// into the same tools directory ($MESHWATCH_TOOLS/bin), so the harness, the
// preview's --stack and `meshwatch demo` all find them afterwards.
//
// Each tool is looked for in this order, and the first that works wins:
//
//  1. its binaries on PATH, then in the tools directory;
//  2. the project's official release archive, downloaded over HTTPS and
//     accepted only when its SHA-256 equals the one pinned here (about a
//     minute on a home connection); a release with no pinned checksum is
//     never downloaded;
//  3. a build from the Go module proxy by .ci/install-tools.sh (tens of
//     minutes on 2 cores): the way CI gets them, and the only way without
//     a pinned archive or without the internet.
//
// Progress goes to a terminal writer: what is fetched or built, how big
// or how long it is expected to take, and how far it is.
package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Archive is one official release file of a tool for one platform.
type Archive struct {
	URL string
	// SHA256 is the pinned checksum of the file at URL (hex). Empty means
	// none was pinned: the archive is never used.
	SHA256 string
	// Format is "tar.gz", "zip" or "binary" (the file is the executable).
	Format string
	// Members maps each binary the tool provides to its path inside the
	// archive (ignored for "binary").
	Members map[string]string
	// Size is the file's approximate size in bytes, for the estimate.
	Size int64
}

// Tool is one pinned server.
type Tool struct {
	// Name is the tool's name for people and for install-tools.sh.
	Name string
	// Version is the upstream version ("3.9.1").
	Version string
	// Bins are the executables it provides; all must be present.
	Bins []string
	// Files are other files it provides, relative to the tools directory
	// (the CRD manifests): found only there, never on PATH.
	Files []string
	// Stamp is what install-tools.sh records in bin/.<StampName>.version
	// for this pin, so that a later run of the script skips the tool.
	StampName, Stamp string
	// Releases are the official archives by GOOS/GOARCH ("linux/amd64").
	Releases map[string]Archive
	// Build is install-tools.sh's name for the tool; BuildEstimate how long
	// that build takes on 2 cores with an empty module cache.
	Build         string
	BuildEstimate time.Duration
}

// Getter finds and gets tools.
type Getter struct {
	// Dir is the tools directory (binaries under Dir/bin).
	Dir string
	// Script is .ci/install-tools.sh; empty means no build fallback.
	Script string
	// Out receives the progress lines (a terminal).
	Out io.Writer
	// Platform is GOOS/GOARCH; empty means this machine's.
	Platform string
	// LookPath finds a binary on PATH (exec.LookPath when nil).
	LookPath func(string) (string, error)
	// Download fetches a URL (an HTTP GET with the default client when nil).
	Download Downloader
	// Now is the clock for the progress's rates and times.
	Now func() time.Time
}

// Found is where a tool's binaries are.
type Found struct {
	Tool  string
	Paths map[string]string // binary -> absolute path
	How   string            // "PATH", "tools directory", "release archive", "built"
}

// ErrNoWay is returned when a tool is missing and neither a pinned archive
// nor the build could provide it.
var ErrNoWay = errors.New("tool unavailable")

func (g *Getter) platform() string {
	if g.Platform != "" {
		return g.Platform
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}

func (g *Getter) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Getter) printf(format string, args ...any) {
	if g.Out != nil {
		_, _ = fmt.Fprintf(g.Out, format, args...)
	}
}

// Find looks for every binary of t on PATH, then in the tools directory,
// without fetching anything.
func (g *Getter) Find(t Tool) (Found, bool) {
	look := g.LookPath
	if look == nil {
		look = exec.LookPath
	}
	onPath := Found{Tool: t.Name, Paths: map[string]string{}, How: "PATH"}
	inDir := Found{Tool: t.Name, Paths: map[string]string{}, How: "tools directory"}
	for _, b := range t.Bins {
		if p, err := look(b); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			onPath.Paths[b] = p
		}
		if p := filepath.Join(g.Dir, "bin", b); executable(p) {
			inDir.Paths[b] = p
		}
	}
	files := map[string]string{}
	for _, f := range t.Files {
		p := filepath.Join(g.Dir, f)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return Found{}, false
		}
		files[f] = p
	}
	withFiles := func(f Found) Found {
		for k, v := range files {
			f.Paths[k] = v
		}
		return f
	}
	if len(onPath.Paths) == len(t.Bins) && len(t.Bins) > 0 {
		return withFiles(onPath), true
	}
	if len(inDir.Paths) == len(t.Bins) {
		return withFiles(inDir), true
	}
	return Found{}, false
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Ensure makes every tool available, in order, and says on Out what it
// found or did. It stops at the first tool it cannot get.
func (g *Getter) Ensure(ctx context.Context, ts []Tool) ([]Found, error) {
	var out []Found
	missing := plan(g, ts)
	if len(missing) > 0 {
		g.printf("%s\n", estimate(g, missing))
	}
	for _, t := range ts {
		if f, ok := g.Find(t); ok {
			g.printf("  %-15s %s: found (%s)\n", t.Name, t.Version, f.How)
			out = append(out, f)
			continue
		}
		f, err := g.get(ctx, t)
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// plan lists the tools Find does not find.
func plan(g *Getter, ts []Tool) []Tool {
	var m []Tool
	for _, t := range ts {
		if _, ok := g.Find(t); !ok {
			m = append(m, t)
		}
	}
	return m
}

// estimate says, before anything is fetched, what will be fetched or built
// and about how long it takes.
func estimate(g *Getter, missing []Tool) string {
	var dl int64
	var build time.Duration
	var dlNames, buildNames []string
	for _, t := range missing {
		if a, ok := t.Releases[g.platform()]; ok && a.SHA256 != "" {
			dl += a.Size
			dlNames = append(dlNames, t.Name)
		} else {
			build += t.BuildEstimate
			buildNames = append(buildNames, t.Name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "First run: %d pinned server(s) missing in PATH and %s.", len(missing), filepath.Join(g.Dir, "bin"))
	if len(dlNames) > 0 {
		fmt.Fprintf(&b, "\n  download %s: %s of official release archives, checksums verified (about a minute at 50 Mbit/s)",
			strings.Join(dlNames, ", "), megabytes(dl))
	}
	if len(buildNames) > 0 {
		fmt.Fprintf(&b, "\n  build %s from the Go module proxy (.ci/install-tools.sh): about %s on 2 cores with an empty module cache, less with a warm one",
			strings.Join(buildNames, ", "), minutes(build))
	}
	fmt.Fprintf(&b, "\n  (a failed download falls back to the build; later runs find them and start at once)")
	return b.String()
}

func minutes(d time.Duration) string {
	if m := int(d.Round(time.Minute) / time.Minute); m > 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "a minute"
}

func megabytes(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// get downloads t's pinned archive, or builds it when there is none or the
// download fails.
func (g *Getter) get(ctx context.Context, t Tool) (Found, error) {
	a, ok := t.Releases[g.platform()]
	var dlErr error
	switch {
	case !ok:
		dlErr = fmt.Errorf("no official archive for %s", g.platform())
	case a.SHA256 == "":
		dlErr = fmt.Errorf("no verified SHA-256 is pinned for %s", a.URL)
	default:
		if dlErr = g.install(ctx, t, a); dlErr == nil {
			f, ok := g.Find(t)
			if !ok {
				return Found{}, fmt.Errorf("%s: installed from %s but not found in %s", t.Name, a.URL, g.Dir)
			}
			f.How = "release archive"
			return f, nil
		}
		if ctx.Err() != nil {
			return Found{}, ctx.Err()
		}
	}
	g.printf("  %-15s %s: %v; building it from the module proxy instead\n", t.Name, t.Version, dlErr)
	if err := g.build(ctx, t); err != nil {
		return Found{}, fmt.Errorf("%w: %s: download: %v; build: %w", ErrNoWay, t.Name, dlErr, err)
	}
	f, ok := g.Find(t)
	if !ok {
		return Found{}, fmt.Errorf("%w: %s: the build ran but %v are not in %s", ErrNoWay, t.Name, t.Bins, filepath.Join(g.Dir, "bin"))
	}
	f.How = "built"
	return f, nil
}

// build runs install-tools.sh for t, its output indented on Out, with the
// elapsed time against the estimate every 30 seconds.
func (g *Getter) build(ctx context.Context, t Tool) error {
	if g.Script == "" || t.Build == "" {
		return errors.New("no build script (run from the repository root, where .ci/install-tools.sh is)")
	}
	if _, err := os.Stat(g.Script); err != nil {
		return err
	}
	g.printf("  %-15s %s: building (about %s on 2 cores) ...\n", t.Name, t.Version, minutes(t.BuildEstimate))
	cmd := exec.CommandContext(ctx, "bash", g.Script, t.Build)
	cmd.Env = append(os.Environ(), "MESHWATCH_TOOLS="+g.Dir, "CI=true")
	cmd.Stdin = nil
	pw := &prefixWriter{w: g.Out, prefix: "    | "}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second
	StopGroupOnCancel(cmd)
	t0 := g.now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				g.printf("  %-15s building: %s of about %s\n", t.Name, g.now().Sub(t0).Round(time.Second), minutes(t.BuildEstimate))
			}
		}
	}()
	err := cmd.Run()
	close(done)
	return err
}

// prefixWriter indents each line written through it.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.w == nil {
		return len(b), nil
	}
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
