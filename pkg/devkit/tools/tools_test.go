package tools

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "pkg-1.0/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// server serves files by path and counts requests.
func server(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func noPath(string) (string, error) { return "", exec.ErrNotFound }

func getter(t *testing.T, out *bytes.Buffer) *Getter {
	return &Getter{Dir: t.TempDir(), Out: out, Platform: "linux/amd64", LookPath: noPath,
		Download: HTTPDownloader(nil)}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnsureDownloadsVerifiedArchives(t *testing.T) {
	tgz := tarGz(t, map[string]string{"pkg-1.0/server": "#!/bin/sh\necho server\n", "pkg-1.0/tool": "#!/bin/sh\necho tool\n", "pkg-1.0/LICENSE": "x"})
	zp := zipOf(t, map[string]string{"logs-linux-amd64": "#!/bin/sh\necho logs\n"})
	srv, _ := server(t, map[string][]byte{"/pkg.tar.gz": tgz, "/logs.zip": zp})
	var out bytes.Buffer
	g := getter(t, &out)
	pkg := Tool{Name: "pkg", Version: "1.0", Bins: []string{"server", "tool"}, StampName: "pkg", Stamp: "v1.0",
		Releases: map[string]Archive{"linux/amd64": {URL: srv.URL + "/pkg.tar.gz", SHA256: sum(tgz), Format: "tar.gz",
			Members: map[string]string{"server": "pkg-1.0/server", "tool": "pkg-1.0/tool"}}}}
	logs := Tool{Name: "logs", Version: "2.0", Bins: []string{"logs"},
		Releases: map[string]Archive{"linux/amd64": {URL: srv.URL + "/logs.zip", SHA256: sum(zp), Format: "zip",
			Members: map[string]string{"logs": "logs-linux-amd64"}}}}

	found, err := g.Ensure(context.Background(), []Tool{pkg, logs})
	if err != nil {
		t.Fatalf("Ensure: %v\n%s", err, out.String())
	}
	for _, f := range found {
		if f.How != "release archive" {
			t.Errorf("%s: got it by %q, want release archive", f.Tool, f.How)
		}
	}
	bin := filepath.Join(g.Dir, "bin")
	if got := read(t, filepath.Join(bin, "tool")); got != "#!/bin/sh\necho tool\n" {
		t.Errorf("bin/tool = %q", got)
	}
	if got := read(t, filepath.Join(bin, "logs")); !strings.Contains(got, "echo logs") {
		t.Errorf("bin/logs = %q", got)
	}
	if st, err := os.Stat(filepath.Join(bin, "server")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("bin/server not executable: %v", err)
	}
	if got := read(t, filepath.Join(bin, ".pkg.version")); got != "v1.0\n" {
		t.Errorf("stamp %q, want install-tools.sh's v1.0", got)
	}
	for _, want := range []string{"First run: 2 pinned server(s) missing", "download pkg, logs", "sha256 verified"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}

	// A second run finds them in the tools directory and fetches nothing.
	out.Reset()
	g.Download = func(context.Context, string) (r io.ReadCloser, n int64, err error) {
		t.Error("downloaded again")
		return nil, 0, errors.New("no")
	}
	found, err = g.Ensure(context.Background(), []Tool{pkg, logs})
	if err != nil || found[0].How != "tools directory" || strings.Contains(out.String(), "First run") {
		t.Errorf("second run: %v %+v\n%s", err, found, out.String())
	}
}

func TestEnsureRefusesAnArchiveWithAnotherChecksum(t *testing.T) {
	tgz := tarGz(t, map[string]string{"pkg-1.0/server": "tampered"})
	srv, _ := server(t, map[string][]byte{"/pkg.tar.gz": tgz})
	var out bytes.Buffer
	g := getter(t, &out)
	pin := sum([]byte("the real archive"))
	pkg := Tool{Name: "pkg", Version: "1.0", Bins: []string{"server"},
		Releases: map[string]Archive{"linux/amd64": {URL: srv.URL + "/pkg.tar.gz", SHA256: pin, Format: "tar.gz",
			Members: map[string]string{"server": "pkg-1.0/server"}}}}
	_, err := g.Ensure(context.Background(), []Tool{pkg})
	if !errors.Is(err, ErrNoWay) {
		t.Fatalf("err = %v, want ErrNoWay (no build script)", err)
	}
	if !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), pin) {
		t.Errorf("error does not say the checksum differs from the pin: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(g.Dir, "bin"))
	if len(entries) != 0 {
		t.Errorf("a refused archive left files: %v", entries)
	}
	left, _ := filepath.Glob(filepath.Join(g.Dir, ".download-*"))
	if len(left) != 0 {
		t.Errorf("download left behind: %v", left)
	}
}

// fakeScript is an install-tools.sh stand-in that records its arguments
// and installs the named tool's binary into $MESHWATCH_TOOLS/bin.
func fakeScript(t *testing.T) (script, record string) {
	dir := t.TempDir()
	record = filepath.Join(dir, "calls")
	script = filepath.Join(dir, "install-tools.sh")
	body := `set -eu
echo "$@ CI=$CI" >>` + record + `
mkdir -p "$MESHWATCH_TOOLS/bin"
echo building "$1"
printf '#!/bin/sh\n' >"$MESHWATCH_TOOLS/bin/$1"; chmod +x "$MESHWATCH_TOOLS/bin/$1"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, record
}

func TestEnsureBuildsWhatHasNoPinnedArchive(t *testing.T) {
	srv, requests := server(t, map[string][]byte{"/am.tar.gz": tarGz(t, map[string]string{"am/am": "x"})})
	var out bytes.Buffer
	g := getter(t, &out)
	g.Script, _ = fakeScript(t)
	unpinned := Tool{Name: "am", Version: "0.1", Bins: []string{"am"}, Build: "am", BuildEstimate: 4 * time.Minute,
		Releases: map[string]Archive{"linux/amd64": {URL: srv.URL + "/am.tar.gz", Format: "tar.gz", Members: map[string]string{"am": "am/am"}}}}
	found, err := g.Ensure(context.Background(), []Tool{unpinned})
	if err != nil {
		t.Fatalf("Ensure: %v\n%s", err, out.String())
	}
	if requests.Load() != 0 {
		t.Errorf("an archive with no pinned checksum was downloaded (%d requests)", requests.Load())
	}
	if found[0].How != "built" {
		t.Errorf("got it by %q, want built", found[0].How)
	}
	for _, want := range []string{"build am from the Go module proxy", "about 4 minutes on 2 cores", "no verified SHA-256 is pinned", "    | building am"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEnsureFallsBackToTheBuildWhenTheDownloadFails(t *testing.T) {
	srv, requests := server(t, nil) // every archive 404s, as without the internet
	var out bytes.Buffer
	g := getter(t, &out)
	var record string
	g.Script, record = fakeScript(t)
	pkg := Tool{Name: "pkg", Version: "1.0", Bins: []string{"pkg"}, Build: "pkg",
		Releases: map[string]Archive{"linux/amd64": {URL: srv.URL + "/pkg.tar.gz", SHA256: sum([]byte("x")), Format: "tar.gz",
			Members: map[string]string{"pkg": "pkg/pkg"}}}}
	found, err := g.Ensure(context.Background(), []Tool{pkg})
	if err != nil || found[0].How != "built" {
		t.Fatalf("Ensure: %v %+v\n%s", err, found, out.String())
	}
	if requests.Load() != 1 {
		t.Errorf("%d download attempts, want 1", requests.Load())
	}
	if got := read(t, record); got != "pkg CI=true\n" {
		t.Errorf("install-tools.sh called with %q, want the tool's name, unattended", got)
	}
}

func TestFindPrefersPATH(t *testing.T) {
	var out bytes.Buffer
	g := getter(t, &out)
	bin := filepath.Join(g.Dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	onPath := map[string]string{"a": "/usr/local/bin/a", "b": "/usr/local/bin/b"}
	g.LookPath = func(n string) (string, error) {
		if p, ok := onPath[n]; ok {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
	tool := Tool{Name: "ab", Bins: []string{"a", "b"}}
	if f, ok := g.Find(tool); !ok || f.How != "PATH" || f.Paths["a"] != "/usr/local/bin/a" {
		t.Errorf("Find = %+v %v, want PATH first", f, ok)
	}
	delete(onPath, "b") // half on PATH: the tools directory has both
	if f, ok := g.Find(tool); !ok || f.How != "tools directory" || f.Paths["b"] != filepath.Join(bin, "b") {
		t.Errorf("Find = %+v %v, want the tools directory", f, ok)
	}
	if err := os.Chmod(filepath.Join(bin, "b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Find(tool); ok {
		t.Error("a non-executable file counted as the binary")
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{g: &Getter{}, total: 100e6, got: 25e6, start: t0}
	if got, want := p.line(t0.Add(5*time.Second)), "25 MB of 100 MB (25%), about 15s left at 5.0 MB/s"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

// TestPinsMatchInstallScript keeps the pins and .ci/install-tools.sh in
// step: the same versions, and stamps the script accepts as its own.
func TestPinsMatchInstallScript(t *testing.T) {
	script := read(t, filepath.Join("..", "..", "..", ".ci", "install-tools.sh"))
	pin := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)`).FindStringSubmatch(script)
		if m == nil {
			t.Fatalf("install-tools.sh has no %s", name)
		}
		return m[1]
	}
	checks := []struct {
		tool  Tool
		stamp string
	}{
		{Prometheus, pin("PROMETHEUS_VERSION")},
		{Alertmanager, pin("ALERTMANAGER_VERSION")},
		{Loki, pin("LOKI_VERSION") + " push=" + pin("LOKI_PUSH_VERSION")},
		{KubeAPIServer, pin("KUBERNETES_VERSION")},
	}
	for _, c := range checks {
		if c.tool.Stamp != c.stamp {
			t.Errorf("%s: stamp %q, install-tools.sh records %q", c.tool.Name, c.tool.Stamp, c.stamp)
		}
		for plat, a := range c.tool.Releases {
			if !strings.Contains(a.URL, c.tool.Version) {
				t.Errorf("%s %s: archive %s is not version %s", c.tool.Name, plat, a.URL, c.tool.Version)
			}
			if a.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a.SHA256) {
				t.Errorf("%s %s: pinned checksum %q is not a SHA-256", c.tool.Name, plat, a.SHA256)
			}
		}
		if !strings.Contains(script, "\n    "+c.tool.Build+")") && !strings.Contains(script, "    "+c.tool.Build+"|") {
			t.Errorf("%s: install-tools.sh has no tool %q", c.tool.Name, c.tool.Build)
		}
	}
	// Prometheus 3.MM.P is published to the module proxy as v0.3MM.P.
	if mp := strings.TrimPrefix(Prometheus.Stamp, "v0.3"); !strings.HasSuffix(Prometheus.Version, "."+strings.TrimLeft(mp, "0")) {
		t.Errorf("Prometheus pin %s / %s disagree: update both, and the archive checksums", Prometheus.Version, Prometheus.Stamp)
	}
}

// A tool of files (the CRDs) is found only in the tools directory.
func TestFindFiles(t *testing.T) {
	var out bytes.Buffer
	g := getter(t, &out)
	crds := Tool{Name: "crds", Files: []string{"crds/a.yaml"}}
	if _, ok := g.Find(crds); ok {
		t.Fatal("found files that are not there")
	}
	if err := os.MkdirAll(filepath.Join(g.Dir, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.Dir, "crds", "a.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, ok := g.Find(crds); !ok || f.How != "tools directory" || f.Paths["crds/a.yaml"] != filepath.Join(g.Dir, "crds", "a.yaml") {
		t.Errorf("Find = %+v %v", f, ok)
	}
}

// Cancelling a build (Ctrl-C in the demo) stops the script and what it
// started, not only the shell.
func TestCancelledBuildLeavesNothingRunning(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := filepath.Join(dir, "install-tools.sh")
	body := "sleep 300 &\necho $! >" + pidFile + "\nwait\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g := getter(t, &out)
	g.Script = script
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Ensure(ctx, []Tool{{Name: "slow", Bins: []string{"slow"}, Build: "slow", BuildEstimate: time.Minute}})
		done <- err
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the script never started its child")
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a cancelled build reported success")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Ensure did not return after cancel")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return // gone (or a zombie awaiting its reaper)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script's child %d still runs after the cancel", pid)
		}
	}
}
