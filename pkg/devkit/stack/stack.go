// Package stack runs a small MeshWatch world on loopback for the preview
// host: the simulated five-service mesh live under a fault scenario (its
// history backfilled up to now, then scraped in real time), a real
// Prometheus that scrapes it and evaluates the mesh alert rules, a real
// Alertmanager that Prometheus notifies, a real Loki fed the mesh's logs,
// and contract fakes of Tempo (answering from the history's traces) and
// Ollama (which cannot run here; they are fakes, and are named so). The servers are the test harness' (pkg/harness),
// run outside tests through a harness.Session.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/explain"
)

// Versions the contract fakes report (those deploy/ runs).
const (
	TempoFakeVersion  = "2.8.2"
	OllamaFakeVersion = "0.12.6"
	OllamaFakeModel   = "phi3:mini"
	// OllamaFakeChunkDelay paces the fake's streamed answer (24 bytes a
	// chunk): about six seconds for a write-up, so the page shows it
	// arriving.
	OllamaFakeChunkDelay = 120 * time.Millisecond
)

// Options configure Start.
type Options struct {
	// Scenario is a simulator scenario name (meshwatch simulate --list).
	Scenario string
	// History is how much of the run is backfilled before now; zero means
	// the scenario's own duration, so its fault is in force at the start.
	History time.Duration
	// Seed makes the run reproducible.
	Seed int64
	// RulesDir holds the mesh alert rule files Prometheus evaluates
	// (deploy/base/monitoring/rules).
	RulesDir string
	// EvaluationInterval of the alert rules; zero means 15s.
	EvaluationInterval time.Duration
	// Logf receives progress lines (nil: dropped).
	Logf func(format string, args ...any)
	// Webhook, when set, is where Alertmanager posts its notifications (the
	// plugin's intake route behind the preview host), with the bearer token
	// in WebhookCredentialsFile.
	Webhook                string
	WebhookCredentialsFile string
	// CanaryGallery adds, beside a canary scenario's Canary, one held
	// still in each Flagger phase (namespace GalleryNamespace, gallery.go).
	CanaryGallery bool
}

// Stack is a running stack. Close stops it.
type Stack struct {
	Scenario     string
	Prometheus   string // URL
	Alertmanager string
	Loki         string
	Tempo        string // contract fake
	Ollama       string // contract fake
	Simulator    string // the mesh's /metrics, /truth and /k8s
	// Kube is the kube-apiserver holding the scenario's Canary (canary
	// scenarios only, canaries.go), KubeCA its serving certificate.
	Kube, KubeCA string
	kubeToken    string // for Secrets
	gallery      bool   // Options.CanaryGallery

	session *harness.Session
	cancel  context.CancelFunc
	done    chan struct{}
	simSrv  *http.Server
	live    *simulator.Live
	once    sync.Once
}

// Start backfills the scenario's history, starts the servers and the live
// simulation, and returns once every server answers. ctx bounds the start;
// the simulation runs until Close.
func Start(ctx context.Context, o Options) (*Stack, error) {
	sc, err := lookupScenario(o.Scenario)
	if err != nil {
		return nil, err
	}
	rules, err := filepath.Glob(filepath.Join(o.RulesDir, "*.yaml"))
	if err != nil || len(rules) == 0 {
		return nil, fmt.Errorf("no alert rule files (*.yaml) in %q: run from the repository root or pass the rules directory", o.RulesDir)
	}
	alertRules, err := promrules.ReadAlertRules(rules...)
	if err != nil {
		return nil, err
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	eval := o.EvaluationInterval
	if eval <= 0 {
		eval = 15 * time.Second
	}

	began := time.Now()
	live, err := simulator.NewLiveWithHistory(ctx, simulator.Options{Scenario: sc, Seed: o.Seed, Duration: o.History})
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", o.Scenario, err)
	}
	session, err := harness.NewSession(logf)
	if err != nil {
		return nil, err
	}
	s := &Stack{Scenario: sc.Name, session: session, live: live, done: make(chan struct{}), gallery: o.CanaryGallery}
	om := filepath.Join(session.Dir(), "history.om")
	if err := live.WriteHistory(om); err != nil {
		_ = session.Close()
		return nil, err
	}
	logf("stack: %s simulated from %s to now in %s", sc.Name, live.Engine().Start().Format(time.RFC3339), time.Since(began).Round(time.Millisecond))
	// The history's sampled traces, for the Tempo fake to answer searches
	// and trace reads from (the traces of the live run after now are not
	// added: a fake, not Tempo).
	traces := filepath.Join(session.Dir(), "tempo")
	if err := live.Engine().WriteTempoFiles(traces); err != nil {
		_ = session.Close()
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = session.Close()
		return nil, err
	}
	s.Simulator = "http://" + ln.Addr().String()
	s.simSrv = &http.Server{Handler: live, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.simSrv.Serve(ln) }()

	err = session.Do(func(t harness.T) {
		blocks := harness.Backfill(t, om)
		n := restoreForState(ctx, t, blocks, alertRules, live.Engine().Start(), live.Engine().Now(), logf)
		logf("stack: %d alerts were pending or firing at the end of the history", n)
		am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{GroupBy: []string{"namespace", "workload"},
			WebhookURL: o.Webhook, WebhookCredentialsFile: o.WebhookCredentialsFile})
		prom := harness.StartPrometheus(t, harness.PrometheusOptions{
			RuleFiles: rules, ScrapeTargets: []string{ln.Addr().String()}, HonorLabels: true,
			ScrapeInterval: simulator.DefaultStep, EvaluationInterval: eval,
			Blocks: blocks, AlertmanagerURL: am.URL,
			// Restore every alert's `for` from ALERTS_FOR_STATE, however short.
			ExtraFlags: []string{"--rules.alert.for-grace-period=1s"},
		})
		loki := harness.StartLoki(t)
		s.Prometheus, s.Alertmanager, s.Loki = prom.URL, am.URL, loki.URL
		s.Tempo = contractfake.TempoWithTraces(t, TempoFakeVersion, traces).URL
		// The fake answers each analysis from its prompt's own findings, and
		// each "Explain this panel" from its panel, streamed over a few
		// seconds (FindingsEcho, PanelEcho: no model runs here).
		s.Ollama = contractfake.NewOllamaFake(t, OllamaFakeVersion,
			contractfake.PanelEcho(explain.DataOpen, explain.DataClose, OllamaFakeChunkDelay,
				contractfake.FindingsEcho(analysis.DataOpen, analysis.DataClose, OllamaFakeChunkDelay)),
			contractfake.OllamaModel{Name: OllamaFakeModel}).URL
	})
	if err != nil {
		_ = s.simSrv.Close()
		_ = session.Close()
		return nil, err
	}

	// The first Advance pushes the history's log lines; later ones what
	// each second adds.
	live.Pusher = &simulator.LokiPusher{URL: s.Loki}
	if err := live.Advance(ctx, time.Now()); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("push the history's logs to Loki: %w", err)
	}
	errs := make(chan error, 1)
	live.Errors = errs
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		_ = live.Run(runCtx)
	}()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case err := <-errs:
				logf("stack: pushing logs to Loki: %v", err)
			}
		}
	}()
	if hasCanary(sc.Name) || rollsOutCanary(sc) {
		if err := s.mirrorCanaries(logf); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	logf("stack: ready in %s: %s", time.Since(began).Round(time.Millisecond), s)
	return s, nil
}

// Settings are the app's jsonData values (dotted keys, as the preview's
// --set takes them) that point the plugin at the stack. The stack has no
// Kubernetes API (but a canary scenario's, which the plugin reads without
// a token), so that dependency is switched off otherwise.
func (s *Stack) Settings() map[string]string {
	m := map[string]string{
		"kubernetes.mode":  "disabled",
		"prometheus.url":   s.Prometheus,
		"alertmanager.url": s.Alertmanager,
		"loki.url":         s.Loki,
		"tempo.url":        s.Tempo,
		"ollama.url":       s.Ollama,
	}
	if s.Kube != "" {
		m["kubernetes.mode"], m["kubernetes.url"], m["kubernetes.caCert"] = "url", s.Kube, s.KubeCA
	}
	return m
}

// String lists the servers, one "name=url" each.
func (s *Stack) String() string {
	parts := []string{"scenario=" + s.Scenario, "simulator=" + s.Simulator}
	for k, v := range s.Settings() {
		name, ok := strings.CutSuffix(k, ".url")
		if !ok {
			continue
		}
		if name == "tempo" || name == "ollama" {
			name += "(contract fake)"
		}
		parts = append(parts, name+"="+v)
	}
	sort.Strings(parts[2:])
	return strings.Join(parts, " ")
}

// Close stops the simulation and every server, and removes their data.
func (s *Stack) Close() error {
	var err error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(s.simSrv.Shutdown(ctx), s.session.Close())
	})
	return err
}
