package preview

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/stack"
	"github.com/meshwatch/meshwatch/pkg/incidents"
)

// Config is the preview command's configuration (its flags).
type Config struct {
	Listen       string
	Dist         string
	HostDir      string
	Provisioning string
	SettingsFile string
	Sets         []string
	DefaultRole  Role
	// Stack, when set, is a simulator scenario: the preview starts the
	// simulated mesh with real Prometheus, Alertmanager and Loki (and the
	// Tempo and Ollama contract fakes) on loopback and points the app at them.
	Stack      string
	StackRules string
	StackEval  time.Duration
	// StackGallery adds a canary in every Flagger phase to a canary
	// scenario's stack (stack.Options.CanaryGallery).
	StackGallery bool
	// Datasources are --datasource values (uid=type=url); with --stack the
	// stack's four come first and a --datasource of the same uid replaces one.
	Datasources []datasource
	// ServiceAccounts are --service-account-token values (name=role=token).
	ServiceAccounts []serviceAccount
	// TokenFile is where --stack writes its generated Viewer token; empty
	// means preview-service-account-token next to the settings file.
	TokenFile string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func defaultSettingsFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "meshwatch", "preview-settings.json")
}

// parseFlags reads the command line of `meshwatch preview`.
func parseFlags(args []string, out io.Writer) (Config, bool, error) {
	var cfg Config
	var sets, dss, sas multiFlag
	var role string
	var limits bool
	fl := flag.NewFlagSet("preview", flag.ContinueOnError)
	fl.SetOutput(out)
	fl.Usage = func() {
		_, _ = fmt.Fprint(out, `Usage: meshwatch preview [flags]

Serves MeshWatch's built pages in a real browser on the plugin's real backend,
without Grafana. This is a preview host, not Grafana (see --limits).

Build first: npm run preview:build && npm run build && go build -o dist/gpx_mesh_linux_amd64 ./pkg
Then open the printed address; pick Viewer, Editor or Admin at the top of the page.

Flags:
`)
		fl.PrintDefaults()
	}
	fl.StringVar(&cfg.Listen, "listen", "127.0.0.1:3001", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&cfg.Dist, "dist", "dist", "the built plugin (plugin.json, module.js, gpx_mesh_<os>_<arch>)")
	fl.StringVar(&cfg.HostDir, "host-dir", filepath.Join("tests", "preview", "host", "dist"), "the built host page (npm run preview:build)")
	fl.StringVar(&cfg.Provisioning, "provisioning", filepath.Join("provisioning", "plugins", "apps.yaml"), "Grafana app provisioning file giving the first settings ($ENV interpolated)")
	fl.StringVar(&cfg.SettingsFile, "settings-file", defaultSettingsFile(), "where saved settings persist (mode 0600; holds secrets); empty keeps them in memory")
	fl.Var(&sets, "set", "override a jsonData value: key=value, dotted keys (prometheus.url=http://127.0.0.1:9090); repeatable")
	fl.StringVar(&role, "role", string(Admin), "role of a browser that has not picked one (Viewer, Editor, Admin)")
	fl.StringVar(&cfg.Stack, "stack", "", "run the simulated mesh under this scenario (meshwatch simulate --list) with real Prometheus, Alertmanager and Loki behind the preview; needs the tools from .ci/install-tools.sh")
	fl.StringVar(&cfg.StackRules, "stack-rules", filepath.Join("deploy", "base", "monitoring", "rules"), "--stack: the alert rule files Prometheus evaluates")
	fl.DurationVar(&cfg.StackEval, "stack-eval", 15*time.Second, "--stack: rule evaluation interval")
	fl.BoolVar(&cfg.StackGallery, "stack-canary-gallery", false, "--stack with a canary scenario: also one canary held in each Flagger phase (namespace "+stack.GalleryNamespace+")")
	fl.Var(&dss, "datasource", "a datasource the host lists and proxies (/api/datasources/proxy/uid/<uid>/...): uid=type=url, e.g. prom=prometheus=http://127.0.0.1:9090; repeatable")
	fl.Var(&sas, "service-account-token", "a service-account token the host's API accepts as Authorization: Bearer <token>: name=role=token; repeatable")
	fl.StringVar(&cfg.TokenFile, "service-account-token-file", "", "--stack: where to write the generated Viewer service-account token (default: preview-service-account-token next to --settings-file)")
	fl.BoolVar(&limits, "limits", false, "print how the preview host differs from Grafana, and exit")
	if err := fl.Parse(args); err != nil {
		return Config{}, false, err
	}
	if fl.NArg() > 0 {
		return Config{}, false, fmt.Errorf("unexpected arguments: %s", strings.Join(fl.Args(), " "))
	}
	if limits {
		_, _ = fmt.Fprintln(out, "The MeshWatch preview host is not Grafana. Where it differs:")
		for _, l := range Limits {
			_, _ = fmt.Fprintln(out, "  - "+l)
		}
		return Config{}, true, nil
	}
	r, ok := parseRole(role)
	if !ok {
		return Config{}, false, fmt.Errorf("--role %q: want Viewer, Editor or Admin", role)
	}
	cfg.DefaultRole = r
	cfg.Sets = sets
	for _, v := range dss {
		ds, err := parseDatasource(v)
		if err != nil {
			return Config{}, false, err
		}
		cfg.Datasources = append(cfg.Datasources, ds)
	}
	for _, v := range sas {
		sa, err := parseServiceAccount(v)
		if err != nil {
			return Config{}, false, err
		}
		cfg.ServiceAccounts = append(cfg.ServiceAccounts, sa)
	}
	return cfg, false, nil
}

// Main runs `meshwatch preview` until SIGINT or SIGTERM.
func Main(args []string) error {
	cfg, done, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) || done {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cfg, os.Stdout, os.Stderr)
}

// Run serves until ctx ends. It prints the address, once the plugin backend
// is up, on stdout as "MeshWatch preview host — not Grafana — <url>"; logs go
// to logOut.
func Run(ctx context.Context, cfg Config, stdout, logOut io.Writer) error {
	log := slog.New(slog.NewTextHandler(logOut, nil)).With("component", "preview")
	meta, err := readPluginMeta(cfg.Dist)
	if err != nil {
		return err
	}
	exe, err := meta.executablePath(cfg.Dist)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.HostDir, "index.html")); err != nil {
		return fmt.Errorf("%w (build the host page first: npm run preview:build)", err)
	}
	// Listen first: the stack's Alertmanager posts to this address.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	appURL := "http://" + ln.Addr().String() + "/"

	var sets []string
	datasources := cfg.Datasources
	accounts := cfg.ServiceAccounts
	var tokenFile string
	var stackSecrets map[string]string
	if cfg.Stack != "" {
		// One Viewer service-account token: the plugin's way through the
		// datasource proxy, and Alertmanager's way into the plugin's intake
		// route (as deploy/ wires a real Grafana).
		token, err := newServiceAccountToken()
		if err != nil {
			return err
		}
		tokenFile = cfg.tokenFile()
		if err := writeTokenFile(tokenFile, token); err != nil {
			return fmt.Errorf("--stack: writing the service-account token: %w", err)
		}
		accounts = append(accounts, serviceAccount{Name: "meshwatch-preview", Role: Viewer, Token: token})
		mesh, err := stack.Start(ctx, stack.Options{Scenario: cfg.Stack, RulesDir: cfg.StackRules, EvaluationInterval: cfg.StackEval, CanaryGallery: cfg.StackGallery,
			Webhook: appURL + "api/plugins/" + meta.ID + "/resources" + incidents.RouteAlertmanager, WebhookCredentialsFile: tokenFile,
			Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }})
		if err != nil {
			return fmt.Errorf("--stack %s: %w", cfg.Stack, err)
		}
		defer func() { _ = mesh.Close() }()
		stackSecrets = mesh.Secrets()
		for k, v := range mesh.Settings() {
			sets = append(sets, k+"="+v) // explicit --set flags come after, and win
		}
		sort.Strings(sets)
		datasources = append(stackDatasources(mesh.Prometheus, mesh.Loki, mesh.Alertmanager, mesh.Tempo), datasources...)
	}
	sets = append(sets, cfg.Sets...)
	var ovs []override
	for _, s := range sets {
		o, err := parseOverride(s)
		if err != nil {
			return err
		}
		ovs = append(ovs, o)
	}

	seed := appState{Enabled: true, Pinned: true, JSONData: map[string]any{}}
	if cfg.Provisioning != "" {
		app, err := loadProvisioning(cfg.Provisioning, meta.ID, os.Getenv)
		switch {
		case err == nil:
			seed = appState{Enabled: !app.Disabled, Pinned: true, JSONData: app.JSONData, SecureJSONData: app.SecureJSONData}
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotProvisioned):
			log.Warn("no provisioned settings; starting from empty jsonData", "reason", err.Error())
		default:
			return err
		}
	}
	st, fromFile, err := openStore(cfg.SettingsFile, seed)
	if err != nil {
		return err
	}
	st.applyOverrides(ovs)
	if len(stackSecrets) > 0 { // the stack's own credentials (its kube-apiserver's token)
		cur := st.snapshot()
		if _, err := st.update(updateCmd{Enabled: cur.Enabled, Pinned: cur.Pinned, JSONData: cur.JSONData, SecureJSONData: stackSecrets}); err != nil {
			return err
		}
	}
	if fromFile {
		log.Info("settings loaded from the settings file", "file", cfg.SettingsFile)
	} else {
		log.Info("settings seeded from provisioning", "file", cfg.Provisioning, "settingsFile", cfg.SettingsFile)
	}
	for _, o := range ovs {
		log.Info("jsonData override", "set", o.String())
	}

	proc, err := startProcess(exe, pluginEnv(meta, appURL), logOut, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer proc.Close()

	managed, err := managedServiceAccount(meta)
	if err != nil {
		return err
	}
	if managed.Token != "" {
		log.Info("plugin.json declares iam: the plugin context carries a managed service-account token", "account", managed.Name)
	}
	srv := newServer(serverOptions{Meta: meta, Dist: cfg.Dist, HostDir: cfg.HostDir, AppURL: appURL,
		DefaultRole: cfg.DefaultRole, Store: st, Backend: proc, Log: log,
		Datasources: datasources, ServiceAccounts: accounts, Managed: managed})
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	_, _ = fmt.Fprintf(stdout, "MeshWatch preview host — not Grafana — %s\n", appURL)
	for _, ds := range srv.datasources {
		_, _ = fmt.Fprintf(stdout, "datasource %s (%s): %sapi/datasources/proxy/uid/%s/ -> %s\n", ds.Name, ds.Type, appURL, ds.UID, ds.URL)
	}
	if tokenFile != "" {
		_, _ = fmt.Fprintf(stdout, "service-account token (Viewer) for the datasource proxy and Alertmanager's webhook: %s\n", tokenFile)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	return nil
}

// tokenFile is where --stack writes its service-account token.
func (c Config) tokenFile() string {
	if c.TokenFile != "" {
		return c.TokenFile
	}
	dir := filepath.Dir(defaultSettingsFile())
	if c.SettingsFile != "" {
		dir = filepath.Dir(c.SettingsFile)
	}
	return filepath.Join(dir, "preview-service-account-token")
}
