package harness

import (
	"path/filepath"
	"strconv"
	"time"
)

// Binary names of Flagger's controller and load tester, as
// .ci/install-tools.sh installs them (built from github.com/fluxcd/flagger,
// the same version as the CRDs in $MESHWATCH_TOOLS/crds/flagger.yaml).
const (
	BinFlagger           = "flagger"
	BinFlaggerLoadTester = "flagger-loadtester"
)

// FlaggerOptions configures StartFlagger.
type FlaggerOptions struct {
	// MetricsServer is the Prometheus Flagger's analysis queries (required:
	// Flagger's Istio observer reads istio_requests_total there).
	MetricsServer string
	// Namespace limits Flagger to the canaries of one namespace ("" for all).
	Namespace string
	// ControlLoopInterval is Flagger's Kubernetes sync interval (zero: 2 s,
	// so that tests do not wait Flagger's default 10 s for each new object).
	ControlLoopInterval time.Duration
	// MeshProvider defaults to "istio".
	MeshProvider string
	// EventWebhook, when set, receives every Flagger event.
	EventWebhook string
	// ExtraFlags are appended to the command line.
	ExtraFlags []string
}

// Flagger is a running Flagger controller against a harness kube-apiserver.
type Flagger struct {
	// URL serves /healthz and Flagger's own metrics at URL+"/metrics"
	// (flagger_canary_status, flagger_canary_weight, ...).
	URL string
	// LogPath is the controller's log (JSON lines: what it decided and why).
	LogPath string
}

// StartFlagger starts Flagger's controller on a random loopback port against
// kube (as the admin user, through a kubeconfig) and waits until /healthz
// answers. No kubelet or deployment controller runs in the harness: the
// test (the simulator) must write the Deployments' status for Flagger to
// get past "waiting for rollout to finish". Stopped in t.Cleanup.
func StartFlagger(t T, kube *Kube, opts FlaggerOptions) *Flagger {
	t.Helper()
	bin := RequireBinary(t, BinFlagger)
	kubeconfig := kube.Kubeconfig(t)
	dir := t.TempDir()
	provider := opts.MeshProvider
	if provider == "" {
		provider = "istio"
	}
	loop := opts.ControlLoopInterval
	if loop <= 0 {
		loop = 2 * time.Second
	}
	f := &Flagger{LogPath: filepath.Join(dir, "flagger.log")}
	start(t, func() spec {
		port := freePort(t)
		f.URL = "http://" + addr(port)
		args := []string{
			"-kubeconfig=" + kubeconfig,
			"-port=" + strconv.Itoa(port),
			"-metrics-server=" + opts.MetricsServer,
			"-mesh-provider=" + provider,
			"-control-loop-interval=" + loop.String(),
			"-log-level=info",
			"-zap-encoding=console",
			"-enable-leader-election=false",
			"-enable-config-tracking=false",
		}
		if opts.Namespace != "" {
			args = append(args, "-namespace="+opts.Namespace)
		}
		if opts.EventWebhook != "" {
			args = append(args, "-event-webhook="+opts.EventWebhook)
		}
		return spec{
			name:    "flagger",
			bin:     bin,
			dir:     dir,
			args:    append(args, opts.ExtraFlags...),
			timeout: 60 * time.Second,
			ready:   httpReady(readyClient, f.URL+"/healthz", nil),
		}
	})
	return f
}

// LoadTester is a running Flagger load tester: its gates (/gate/check,
// /gate/open, /gate/close and the same under /rollback/) keep their state in
// memory, closed by default, so Restart forgets every open gate, as a
// restarted pod does.
type LoadTester struct {
	// URL is http://127.0.0.1:<port>; the port stays the same across
	// restarts.
	URL string

	t    T
	port int
	dir  string
	bin  string
	args []string
	p    *proc
}

// LoadTesterOptions configures StartLoadTester.
type LoadTesterOptions struct {
	// NamespaceRegexp restricts the gates to canaries of matching namespaces
	// (the load tester's --namespace-regexp; "" allows all).
	NamespaceRegexp string
}

// StartLoadTester starts Flagger's load tester on a random loopback port and
// waits until /healthz answers. Stopped in t.Cleanup.
func StartLoadTester(t T, opts LoadTesterOptions) *LoadTester {
	t.Helper()
	l := &LoadTester{t: t, bin: RequireBinary(t, BinFlaggerLoadTester), dir: t.TempDir()}
	l.args = []string{"-log-level=info", "-zap-encoding=console"}
	if opts.NamespaceRegexp != "" {
		l.args = append(l.args, "-namespace-regexp="+opts.NamespaceRegexp)
	}
	l.launch(true)
	return l
}

func (l *LoadTester) launch(newPort bool) {
	l.t.Helper()
	l.p = start(l.t, func() spec {
		if newPort || l.port == 0 {
			l.port = freePort(l.t)
		}
		l.URL = "http://" + addr(l.port)
		return spec{
			name:    "flagger-loadtester",
			bin:     l.bin,
			dir:     l.dir,
			args:    append([]string{"-port=" + strconv.Itoa(l.port)}, l.args...),
			timeout: 30 * time.Second,
			ready:   httpReady(readyClient, l.URL+"/healthz", nil),
		}
	})
}

// Restart stops the load tester and starts it again on the same port:
// every gate it had open is closed again.
func (l *LoadTester) Restart() {
	l.t.Helper()
	l.p.stop()
	l.launch(false)
}
