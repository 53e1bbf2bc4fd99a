// Package compose holds the Docker build of MeshWatch (Dockerfile) and the
// configuration the top-level docker-compose.yaml mounts. Docker does not
// run in CI, so these tests check what can be checked without it: the
// compose file parses, every path and service it refers to exists, its
// ports and healthchecks agree with the images' documented configuration,
// and the Dockerfile's stages copy what exists and install the plugin where
// Grafana loads it. build-stages.sh runs the build stages' commands.
package compose

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const root = "../.."

// image is what an image's documentation says about it.
type image struct {
	ports []int // the ports its server listens on (in our configuration)
	// health is the documented health or readiness path; tools are the
	// HTTP clients the image ships (none: distroless, no healthcheck).
	health string
	tools  []string
}

// documented is the images' configuration as their documentation gives it:
//   - Grafana (grafana/grafana, Alpine): port 3000, GET /api/health, plugins in
//     /var/lib/grafana/plugins, provisioning in /etc/grafana/provisioning;
//   - Prometheus and Alertmanager (prom/*, busybox): 9090 / 9093, /-/ready, wget;
//   - Loki 3.6+ and Tempo images are distroless (no shell, wget or curl:
//     grafana/loki#20149, grafana/tempo#6536): /ready, but no in-container probe;
//   - Ollama: 11434; curl: 8.x (one-shot, no server);
//   - the simulator (our distroless image): --listen :9464.
var documented = map[string]image{
	"grafana":      {ports: []int{3000}, health: "/api/health", tools: []string{"wget", "curl"}},
	"prometheus":   {ports: []int{9090}, health: "/-/ready", tools: []string{"wget"}},
	"alertmanager": {ports: []int{9093}, health: "/-/ready", tools: []string{"wget"}},
	"loki":         {ports: []int{3100}, health: "/ready"},
	"tempo":        {ports: []int{3200, 4317, 4318}, health: "/ready"},
	"ollama":       {ports: []int{11434}},
	"simulator":    {ports: []int{9464}},
	"intake-token": {},
}

type service struct {
	Image string `json:"image"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Target     string            `json:"target"`
		Args       map[string]string `json:"args"`
	} `json:"build"`
	Command     []string                     `json:"command"`
	Entrypoint  []string                     `json:"entrypoint"`
	Volumes     []string                     `json:"volumes"`
	Ports       []string                     `json:"ports"`
	DependsOn   map[string]map[string]string `json:"depends_on"`
	Environment map[string]string            `json:"environment"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
}

type composeFile struct {
	Services map[string]service `json:"services"`
	Volumes  map[string]any     `json:"volumes"`
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var cf composeFile
	readYAML(t, filepath.Join(root, "docker-compose.yaml"), &cf)
	if len(cf.Services) == 0 {
		t.Fatal("docker-compose.yaml has no services")
	}
	return cf
}

// defaulted resolves ${VAR:-default} to its default, as compose does with
// VAR unset.
func defaulted(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

// mount is one volumes entry.
type mount struct{ src, dst string }

func mounts(s service) []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		out = append(out, mount{parts[0], parts[1]})
	}
	return out
}

// TestComposeReferencesResolve: every bind-mounted path exists, every
// named volume is declared, every config file a command names is mounted,
// every depends_on names a service (and service_healthy one with a
// healthcheck), and every build names an existing Dockerfile and stage.
func TestComposeReferencesResolve(t *testing.T) {
	cf := readCompose(t)
	for name, s := range cf.Services {
		if _, ok := documented[name]; !ok {
			t.Errorf("service %s: not in this test's table of documented images; add what its image's documentation says", name)
		}
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Image != "" && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		targets := map[string]bool{}
		for _, m := range mounts(s) {
			targets[m.dst] = true
			if strings.HasPrefix(m.src, ".") {
				if _, err := os.Stat(filepath.Join(root, m.src)); err != nil {
					t.Errorf("service %s: bind mount %s: %v", name, m.src, err)
				}
			} else if _, ok := cf.Volumes[m.src]; !ok {
				t.Errorf("service %s: volume %q is not declared under volumes", name, m.src)
			}
		}
		for _, arg := range append(slices.Clone(s.Command), s.Entrypoint...) {
			_, file, ok := strings.Cut(arg, "config.file=")
			if !ok && strings.HasPrefix(arg, "/") && strings.HasSuffix(arg, ".sh") {
				file, ok = arg, true
			}
			if !ok || file == "" {
				continue
			}
			if !mountedAt(s, file) {
				t.Errorf("service %s: its command reads %s, which no volume mounts", name, file)
			}
		}
		for dep, cond := range s.DependsOn {
			d, ok := cf.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			case cond["condition"] == "service_healthy" && d.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
		if s.Build != nil {
			df := filepath.Join(root, s.Build.Context, s.Build.Dockerfile)
			stages := dockerfileStages(t, df)
			if !slices.ContainsFunc(stages, func(st stage) bool { return st.name == s.Build.Target }) {
				t.Errorf("service %s: build target %q is not a stage of %s", name, s.Build.Target, df)
			}
			args := dockerfileArgs(t, df)
			for k := range s.Build.Args {
				if _, ok := args[k]; !ok {
					t.Errorf("service %s: build arg %s is not an ARG of %s", name, k, df)
				}
			}
		}
	}
	// Prometheus loads the mesh alert rules through its mounted rules directory.
	var prom struct {
		RuleFiles []string `json:"rule_files"`
	}
	readYAML(t, filepath.Join(root, "deploy/compose/prometheus.yml"), &prom)
	if len(prom.RuleFiles) == 0 {
		t.Fatal("deploy/compose/prometheus.yml loads no rule files: no alert would ever fire")
	}
	for _, glob := range prom.RuleFiles {
		src := hostPath(cf.Services["prometheus"], glob)
		if src == "" {
			t.Errorf("rule_files %s: not under a mounted directory", glob)
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(root, src)); len(m) == 0 {
			t.Errorf("rule_files %s: no files match on the host (%s)", glob, src)
		}
	}
}

// mountedAt reports whether file (in the container) is under a mount.
func mountedAt(s service, file string) bool { return hostPath(s, file) != "" }

// hostPath maps a container path under a bind mount to the host path.
func hostPath(s service, file string) string {
	for _, m := range mounts(s) {
		if file == m.dst {
			return m.src
		}
		if rest, ok := strings.CutPrefix(file, strings.TrimSuffix(m.dst, "/")+"/"); ok {
			if !strings.HasPrefix(m.src, ".") {
				return "volume:" + m.src
			}
			return path.Join(m.src, rest)
		}
	}
	return ""
}

// TestComposePortsMatchTheImages: each published container port is one
// the image listens on in our configuration, and every address the
// configuration files give (Prometheus' targets, Alertmanager's webhook,
// Grafana's datasources, the simulator's Loki) names a service and a port
// it listens on.
func TestComposePortsMatchTheImages(t *testing.T) {
	cf := readCompose(t)
	for name, s := range cf.Services {
		for _, p := range s.Ports {
			parts := strings.Split(strings.TrimSuffix(p, "/tcp"), ":")
			port, err := strconv.Atoi(parts[len(parts)-1])
			if err != nil || !slices.Contains(documented[name].ports, port) {
				t.Errorf("service %s publishes %q: the image listens on %v", name, p, documented[name].ports)
			}
		}
	}
	// The servers' own config files say the same ports.
	var loki struct {
		Server struct {
			Port int `json:"http_listen_port"`
		} `json:"server"`
	}
	readYAML(t, filepath.Join(root, "deploy/compose/loki.yaml"), &loki)
	var tempo struct {
		Server struct {
			Port int `json:"http_listen_port"`
		} `json:"server"`
	}
	readYAML(t, filepath.Join(root, "deploy/compose/tempo.yaml"), &tempo)
	if !slices.Contains(documented["loki"].ports, loki.Server.Port) || !slices.Contains(documented["tempo"].ports, tempo.Server.Port) {
		t.Errorf("loki.yaml listens on %d, tempo.yaml on %d: not the ports compose uses", loki.Server.Port, tempo.Server.Port)
	}

	var addrs []string
	var prom struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
			} `json:"alertmanagers"`
		} `json:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, filepath.Join(root, "deploy/compose/prometheus.yml"), &prom)
	for _, a := range prom.Alerting.Alertmanagers {
		for _, sc := range a.StaticConfigs {
			addrs = append(addrs, sc.Targets...)
		}
	}
	for _, j := range prom.ScrapeConfigs {
		for _, sc := range j.StaticConfigs {
			for _, tg := range sc.Targets {
				if !strings.HasPrefix(tg, "localhost:") {
					addrs = append(addrs, tg)
				}
			}
		}
	}
	var am struct {
		Receivers []struct {
			WebhookConfigs []struct {
				URL string `json:"url"`
			} `json:"webhook_configs"`
		} `json:"receivers"`
	}
	readYAML(t, filepath.Join(root, "deploy/compose/alertmanager.yml"), &am)
	for _, r := range am.Receivers {
		for _, w := range r.WebhookConfigs {
			addrs = append(addrs, hostPort(t, w.URL))
		}
	}
	var ds struct {
		Datasources []struct {
			URL string `json:"url"`
		} `json:"datasources"`
	}
	readYAML(t, filepath.Join(root, "provisioning/datasources/meshwatch.yaml"), &ds)
	for _, d := range ds.Datasources {
		addrs = append(addrs, hostPort(t, d.URL))
	}
	for _, s := range cf.Services {
		for i, a := range s.Command {
			if i > 0 && (s.Command[i-1] == "--loki") {
				addrs = append(addrs, hostPort(t, a))
			}
		}
		for _, v := range s.Environment {
			if strings.HasPrefix(v, "http://") {
				addrs = append(addrs, hostPort(t, v))
			}
		}
	}
	if len(addrs) < 8 {
		t.Fatalf("found only %d addresses in the configuration: %v", len(addrs), addrs)
	}
	for _, a := range addrs {
		host, portStr, _ := strings.Cut(a, ":")
		port, _ := strconv.Atoi(portStr)
		if _, ok := cf.Services[host]; !ok {
			t.Errorf("%s: no service %s in docker-compose.yaml", a, host)
			continue
		}
		if !slices.Contains(documented[host].ports, port) {
			t.Errorf("%s: %s listens on %v", a, host, documented[host].ports)
		}
	}
	// The simulator listens where Prometheus scrapes it.
	sim := cf.Services["simulator"].Command
	if i := slices.Index(sim, "--listen"); i < 0 || !strings.HasSuffix(sim[i+1], ":"+strconv.Itoa(documented["simulator"].ports[0])) {
		t.Errorf("simulator command %v: want --listen on :%d", sim, documented["simulator"].ports[0])
	}
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(defaulted(raw))
	if err != nil || u.Host == "" {
		t.Errorf("%q is not a URL", raw)
		return ""
	}
	if u.Port() == "" {
		return u.Hostname() + ":80"
	}
	return u.Host
}

// TestComposeHealthchecks: a healthcheck calls the image's documented
// health path with a client the image ships; a distroless image has none
// (it would never pass, and service_healthy would wait forever).
func TestComposeHealthchecks(t *testing.T) {
	cf := readCompose(t)
	checked := 0
	for name, s := range cf.Services {
		doc := documented[name]
		if s.Healthcheck == nil {
			continue
		}
		if len(doc.tools) == 0 {
			t.Errorf("service %s: its image ships no shell or HTTP client; the healthcheck %v can never pass", name, s.Healthcheck.Test)
			continue
		}
		test := strings.Join(s.Healthcheck.Test, " ")
		if !strings.HasPrefix(test, "CMD") {
			t.Errorf("service %s: healthcheck %q: want CMD or CMD-SHELL", name, test)
		}
		usesTool := slices.ContainsFunc(doc.tools, func(tool string) bool { return strings.Contains(test, tool+" ") })
		if !usesTool {
			t.Errorf("service %s: healthcheck %q uses none of the image's %v", name, test, doc.tools)
		}
		want := fmt.Sprintf("http://localhost:%d%s", doc.ports[0], doc.health)
		if !strings.Contains(test, want) {
			t.Errorf("service %s: healthcheck %q does not ask the documented %s", name, test, want)
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("%d healthchecks: Grafana, Prometheus and Alertmanager should have one", checked)
	}
}

// stage is one FROM of a Dockerfile with its instructions.
type stage struct {
	name  string
	from  string
	lines []string // instructions, continuation lines joined
}

func dockerfileLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

func dockerfileStages(t *testing.T, file string) []stage {
	var out []stage
	for _, l := range dockerfileLines(t, file) {
		f := strings.Fields(l)
		if strings.EqualFold(f[0], "FROM") {
			st := stage{from: f[1]}
			if len(f) >= 4 && strings.EqualFold(f[2], "AS") {
				st.name = f[3]
			}
			out = append(out, st)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].lines = append(out[len(out)-1].lines, l)
		}
	}
	return out
}

// dockerfileArgs maps each ARG to its default ("" when it has none).
func dockerfileArgs(t *testing.T, file string) map[string]string {
	args := map[string]string{}
	for _, l := range dockerfileLines(t, file) {
		if f := strings.Fields(l); strings.EqualFold(f[0], "ARG") {
			name, def, _ := strings.Cut(f[1], "=")
			args[name] = def
		}
	}
	return args
}

// dockerignored reports whether the .dockerignore patterns leave p out
// (the subset of its syntax the file uses: paths, * and **/).
func dockerignored(patterns []string, p string) bool {
	for _, pat := range patterns {
		pat = strings.TrimSuffix(pat, "/")
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
		if rest, ok := strings.CutPrefix(pat, "**/"); ok {
			for _, seg := range strings.Split(p, "/") {
				if ok, _ := path.Match(rest, seg); ok {
					return true
				}
			}
		}
		if strings.HasPrefix(p, pat+"/") {
			return true
		}
	}
	return false
}

// TestDockerfileStages: the stages compose builds exist; every COPY from
// the context names something that exists and the .dockerignore keeps;
// every COPY --from names an earlier stage; the plugin lands in Grafana's
// plugin directory under its id; the images are pinned.
func TestDockerfileStages(t *testing.T) {
	df := filepath.Join(root, "deploy/compose/Dockerfile")
	stages := dockerfileStages(t, df)
	var ignore []string
	b, err := os.ReadFile(df + ".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignore = append(ignore, l)
		}
	}
	var pj struct {
		ID         string `json:"id"`
		Executable string `json:"executable"`
	}
	pjb, err := os.ReadFile(filepath.Join(root, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pjb, &pj); err != nil {
		t.Fatal(err)
	}
	pluginDir := "/var/lib/grafana/plugins/" + pj.ID + "/"
	var names []string
	installed := 0
	for _, st := range stages {
		for _, l := range st.lines {
			f := strings.Fields(l)
			if !strings.EqualFold(f[0], "COPY") {
				continue
			}
			var from string
			var args []string
			for _, a := range f[1:] {
				switch {
				case strings.HasPrefix(a, "--from="):
					from = strings.TrimPrefix(a, "--from=")
				case strings.HasPrefix(a, "--"):
				default:
					args = append(args, a)
				}
			}
			srcs, dst := args[:len(args)-1], args[len(args)-1]
			if from != "" {
				if !slices.Contains(names, from) {
					t.Errorf("stage %s: COPY --from=%s: no earlier stage of that name (%v)", st.name, from, names)
				}
				if st.name == "grafana" && dst == pluginDir {
					installed++
				}
				continue
			}
			for _, src := range srcs {
				clean := strings.TrimSuffix(src, "/")
				m, _ := filepath.Glob(filepath.Join(root, clean))
				if len(m) == 0 {
					t.Errorf("stage %s: COPY %s: nothing at that path in the repository", st.name, src)
				}
				if dockerignored(ignore, clean) {
					t.Errorf("stage %s: COPY %s: the .dockerignore leaves it out of the context", st.name, src)
				}
			}
		}
		names = append(names, st.name)
	}
	for _, want := range []string{"frontend", "backend", "grafana", "simulator"} {
		if !slices.Contains(names, want) {
			t.Errorf("no stage %s in %s (stages %v)", want, df, names)
		}
	}
	if installed != 2 {
		t.Errorf("the grafana stage copies %d build outputs into %s, want the frontend's and the backend's", installed, pluginDir)
	}
	// The backend stage builds the executable plugin.json names, with the
	// SDK's mage targets (as `mage build:linux` on a host).
	backend := stages[slices.IndexFunc(stages, func(s stage) bool { return s.name == "backend" })]
	if !slices.ContainsFunc(backend.lines, func(l string) bool { return strings.Contains(l, "magefile/mage") && strings.Contains(l, "build:linux") }) {
		t.Errorf("the backend stage does not run mage build:linux: %v", backend.lines)
	}
	if pj.Executable != "gpx_mesh" {
		t.Logf("plugin.json executable %q (the SDK's build names the binary after it)", pj.Executable)
	}
	// The host's build output never enters the context.
	for _, p := range []string{"node_modules", "dist", "tests/preview/host/dist"} {
		if !dockerignored(ignore, p) {
			t.Errorf("%s is not in the .dockerignore: the host's build would leak into the image", p)
		}
	}
	args := dockerfileArgs(t, df)
	for _, st := range stages {
		img := st.from
		for a, def := range args {
			img = strings.ReplaceAll(img, "${"+a+"}", def)
		}
		if strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":") && !slices.Contains(names, img) {
			t.Errorf("stage %s: FROM %s is not pinned", st.name, st.from)
		}
	}
}
