package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binary names that .ci/install-tools.sh installs.
const (
	BinPrometheus    = "prometheus"
	BinPromtool      = "promtool"
	BinAlertmanager  = "alertmanager"
	BinLoki          = "loki"
	BinKubeAPIServer = "kube-apiserver"
	BinEtcd          = "etcd"
)

const installHint = "run `bash .ci/install-tools.sh` (installs into $MESHWATCH_TOOLS, default ~/.cache/meshwatch/tools)"

// ToolPaths holds the absolute paths of the installed test binaries and the
// directory of the CRD manifests.
type ToolPaths struct {
	Prometheus    string
	Promtool      string
	Alertmanager  string
	Loki          string
	KubeAPIServer string
	Etcd          string
	CRDDir        string // flagger.yaml and istio.yaml
}

// ToolsDir is $MESHWATCH_TOOLS, or $HOME/.cache/meshwatch/tools when unset.
func ToolsDir() string {
	if d := os.Getenv("MESHWATCH_TOOLS"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs // servers run in their own working directories
		}
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "meshwatch", "tools")
}

// Tools returns the paths of all test binaries and the CRD directory. If any
// is missing the test is skipped (failed when CI=true).
func Tools(t T) ToolPaths {
	t.Helper()
	return ToolPaths{
		Prometheus:    RequireBinary(t, BinPrometheus),
		Promtool:      RequireBinary(t, BinPromtool),
		Alertmanager:  RequireBinary(t, BinAlertmanager),
		Loki:          RequireBinary(t, BinLoki),
		KubeAPIServer: RequireBinary(t, BinKubeAPIServer),
		Etcd:          RequireBinary(t, BinEtcd),
		CRDDir:        requireCRDDir(t),
	}
}

// RequireBinary returns the path of the named binary, looked up in
// $MESHWATCH_TOOLS/bin and then in PATH. If it is missing the test is skipped,
// or failed when the environment variable CI is true.
func RequireBinary(t T, name string) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), "bin", name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	missing(t, "%s not found in %s nor in PATH; %s", name, filepath.Join(ToolsDir(), "bin"), installHint)
	return ""
}

func requireCRDDir(t T) string {
	t.Helper()
	dir := filepath.Join(ToolsDir(), "crds")
	for _, f := range []string{"flagger.yaml", "istio.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing(t, "CRD manifest %s missing in %s; %s", f, dir, installHint)
		}
	}
	return dir
}

// missing skips the test, or fails it under CI where every tool must be there.
func missing(t T, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("harness: "+format, args...)
	}
	t.Skipf("harness: "+format, args...)
}

func inCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "true", "1", "yes":
		return true
	}
	return false
}
