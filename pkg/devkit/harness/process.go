package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	logTailLines  = 60               // lines of each server log printed when a test fails
	stopGrace     = 10 * time.Second // SIGTERM to SIGKILL
	startAttempts = 3                // retries when a picked port was taken meanwhile
)

// spec describes one server process.
type spec struct {
	name    string
	bin     string
	args    []string
	env     []string // added to os.Environ()
	dir     string   // working directory; also holds <name>.log
	timeout time.Duration
	// ready reports nil once the server is ready; it is polled until timeout.
	ready func(ctx context.Context) error
	// prepare, when set, adjusts the command before it starts (PostgreSQL
	// runs as an unprivileged user when the tests run as root).
	prepare func(cmd *exec.Cmd)
}

// proc is a running server process (its own process group).
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// start runs the spec built by build (called again, with fresh ports, when a
// port was taken between picking and binding), waits for readiness, and
// registers the stop and the failure log dump with t.Cleanup.
func start(t T, build func() spec) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s := build()
		t0 := time.Now()
		p, err := launch(s)
		if err != nil {
			t.Fatalf("harness: start %s: %v", s.name, err)
		}
		err = p.waitReady(s)
		if err == nil {
			t.Logf("harness: %s ready in %s", s.name, time.Since(t0).Round(time.Millisecond))
			t.Cleanup(func() {
				if t.Failed() { // the log as it was when the test ended, not its shutdown
					t.Logf("harness: last %d lines of %s log (%s):\n%s", logTailLines, p.name, p.logPath, p.tail(logTailLines))
				}
				t0 := time.Now()
				p.stop()
				if d := time.Since(t0); d > 2*time.Second {
					t.Logf("harness: %s took %s to stop", s.name, d.Round(time.Millisecond))
				}
			})
			return p
		}
		p.stop()
		tail := p.tail(logTailLines)
		if attempt < startAttempts && strings.Contains(tail, "address already in use") {
			t.Logf("harness: %s: a port was taken meanwhile, retrying with new ports", s.name)
			continue
		}
		t.Fatalf("harness: %s not ready: %v\n--- last %d lines of %s ---\n%s", s.name, err, logTailLines, p.logPath, tail)
	}
}

func launch(s spec) (*proc, error) {
	logPath := filepath.Join(s.dir, s.name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "+ %s %s\n", s.bin, strings.Join(s.args, " "))
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdin = nil
	cmd.Stdout = f // an *os.File: no copying goroutines, nothing to drain on Wait
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if s.prepare != nil {
		s.prepare(cmd)
	}
	if err := startCmd(cmd); err != nil {
		return nil, err
	}
	p := &proc{name: s.name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) waitReady(s spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("exited during startup: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %v", s.timeout, last)
		case <-tick.C:
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			last = s.ready(rctx)
			rcancel()
			if last == nil {
				return nil
			}
		}
	}
}

// stop terminates the process group: SIGTERM, then SIGKILL after stopGrace.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	terminate(p.cmd, false)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		terminate(p.cmd, true)
		<-p.exited
	}
	terminate(p.cmd, true) // stragglers in the group, if any
}

// tail returns the last n lines of the process log.
func (p *proc) tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort returns a loopback TCP port that was free a moment ago and that this
// process has not handed out before. It prefers ports below the kernel's
// ephemeral range, so that outgoing connections do not grab them meanwhile.
func freePort(t T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	elo, ehi := ephemeralRange()
	for i := 0; i < 1000; i++ {
		// #nosec G404 -- spreading test servers over loopback ports, nothing secret
		p := 20000 + rand.IntN(12000)
		if i >= 500 { // the range is crowded or ephemeral: let the kernel pick
			p = 0
		} else if portsUsed[p] || (p >= elo && p <= ehi) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if portsUsed[p] {
			continue
		}
		portsUsed[p] = true
		return p
	}
	t.Fatal("harness: no free loopback port found")
	return 0
}

func ephemeralRange() (int, int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	return lo, hi
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

var readyClient = &http.Client{Timeout: 5 * time.Second}

// httpReady is a readiness probe: GET url answers 200.
func httpReady(client *http.Client, url string, header http.Header) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// mkdirs creates dir and its subdirectories.
func mkdirs(t T, dir string, subs ...string) {
	t.Helper()
	for _, s := range append([]string{""}, subs...) {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the tree at src into dst (created if needed).
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return errors.New("copyDir: not a regular file: " + path)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
