package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/analyses"
	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/configapi"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/explain"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/ha"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incidents"
	"github.com/meshwatch/meshwatch/pkg/intake"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/signoff"
	"github.com/meshwatch/meshwatch/pkg/storage"
	"github.com/meshwatch/meshwatch/pkg/systems"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// alertsInterval is how often the alerts Live channel reads Prometheus: one
// poll per instance, shared by every subscriber. alertsHeartbeat re-sends an
// unchanged frame this often (zero: the feed's default). Both are variables
// for tests only.
var (
	alertsInterval  = alerts.DefaultInterval
	alertsHeartbeat time.Duration
)

// wire builds the capabilities of one instance; each registers its own
// routes, streams, health checks and what stops on Dispose.
func wire(reg *capability.Registry, cfg settings.Settings, loadErr error, version string) {
	configapi.Register(reg, cfg, loadErr, version)
	sys := systems.Register(reg, cfg, loadErr)
	feed := alerts.Register(reg, alertsSource(sys), alertsInterval)
	feed.Heartbeat = alertsHeartbeat
	signOff := signoff.Wire(reg, cfg, loadErr, sys)
	ao := analysisOptions(reg, cfg, sys)
	ao.Stored = proposing(signOff)
	writeUps := analyses.New(ao)
	var watch canaryWatch
	o := incidentOptions(cfg, loadErr, sys, watch.evidence)
	o.Capture = offering(o.Capture, writeUps.Offer)
	o.Active = activeWorker(reg, cfg, o.StoreErr) // only the active replica polls, captures and writes up
	inc := incidents.Register(reg, o)
	if o.StoreErr == nil { // another replica opened an incident: the active worker captures it now
		if stop := storage.OnOpened(cfg.Storage, wakeIfActive(o.Active, inc.Wake)); stop != nil {
			reg.OnDispose(stop)
		}
	}
	st, _ := inc.Store().(analyses.Store) // nil store: the write-up routes say it is unavailable
	writeUps.Register(reg, st)
	explain.Wire(reg, cfg, sys, analysisQueue) // Explain this panel, on the write-ups' model queue
	watch.Store(canaries.Wire(reg, cfg, sys, signOff, inc.Raise(incident.SourceFlagger), o.Active))
}

// activeWorker takes this instance's hold on the active-worker lease of
// the configured database (pkg/ha: always active on SQLite) and, on
// PostgreSQL, adds the health line that says which replica is active.
func activeWorker(reg *capability.Registry, cfg settings.Settings, storeErr error) func() bool {
	if storeErr != nil {
		return nil
	}
	lease, release, err := storage.Lease(cfg.Storage)
	if err != nil {
		reg.HealthLine(health.Result{Name: "Active worker", Status: health.Warning, Message: err.Error()})
		return func() bool { return false }
	}
	reg.OnDispose(release)
	if cfg.Storage.Kind == settings.StorePostgres {
		reg.Health(health.Check{Name: "Active worker", Target: storage.Key(cfg.Storage), Probe: func(ctx context.Context) (health.Outcome, error) {
			st, err := lease.Status(ctx)
			if err != nil {
				return health.Outcome{}, err
			}
			return health.Outcome{Version: cfg.Storage.Kind, Note: ha.Describe(st)}, nil
		}})
	}
	return lease.Active
}

// wakeIfActive is wake when this replica is the active worker (a standby's
// loop would only look at the lease).
func wakeIfActive(active func() bool, wake func()) func() {
	return func() {
		if active == nil || active() {
			wake()
		}
	}
}

// canaryWatch is the canary capability, for the captures that run before
// it is built: an incident's evidence carries its subject's canary.
type canaryWatch struct {
	atomic.Pointer[canaries.Service]
}

// evidence is the Flagger canary of namespace/workload (its target or the
// target's primary) as evidence, or nil.
func (w *canaryWatch) evidence(ctx context.Context, namespace, workload string) *evidence.Canary {
	svc := w.Load()
	if svc == nil || !svc.Synced() {
		return nil
	}
	if c, ok := svc.ForWorkload(ctx, namespace, workload); ok {
		return canaries.Evidence(c)
	}
	return nil
}

// incidentOptions builds the incident capability from the settings: the
// SQLite store at storage.path, and the reconcile with Alertmanager's
// active alerts, or Prometheus's where no Alertmanager can be read.
func incidentOptions(cfg settings.Settings, loadErr error, sys *systems.Set, canaryOf canaryLookup) incidents.Options {
	storeCfg := incident.Config{Grouping: incident.Grouping{WorkloadLabels: cfg.Incidents.WorkloadLabels}, Rules: incident.DefaultRules}
	o := incidents.Options{
		StoreKey: storage.Key(cfg.Storage),
		Open: func(ctx context.Context) (incident.Store, error) {
			return storage.Open(ctx, cfg.Storage, storeCfg, storage.Option{})
		},
		StoreErr:  systems.SectionErr(loadErr, "storage"),
		Every:     time.Duration(cfg.Incidents.ReconcileSeconds) * time.Second,
		Retention: time.Duration(cfg.Storage.RetentionDays) * 24 * time.Hour,
		Heartbeat: alertsHeartbeat,
		Capture:   captureWith(sys, canaryOf),
	}
	if sys.Prometheus != nil {
		o.Series = incidents.SeriesFrom(sys.Prometheus.API()) // the detail page's charts: the capture's own queries
	}
	if err := systems.SectionErr(loadErr, "incidents"); err != nil {
		o.StoreErr = err // the grouping is not what the admin wrote: take nothing in
	}
	switch {
	case sys.Alertmanager != nil:
		o.Reconcile = reconciler(incident.SourceAlertmanager, sys.Alertmanager.Target(), sys.Alertmanager.Alerts, intake.FromAlertmanagerAPI)
	case sys.Prometheus != nil:
		o.Reconcile = reconciler(incident.SourcePrometheus, sys.Prometheus.Target(), sys.Prometheus.Alerts, intake.FromPrometheus)
	default:
		o.ReconcileErr = fmt.Errorf("neither Alertmanager nor Prometheus can be read (%v; %v)", sys.AlertmanagerErr, sys.PrometheusErr)
	}
	return o
}

// analysisQueue is the process's one queue of write-ups per model: every
// instance (and a replaced one's analyses still finishing) waits in it.
var analysisQueue = analysis.NewQueue(nil)

// analysisOptions builds the write-up stage: pkg/analysis on the configured
// Ollama and model; without one, the page says why and shows the findings.
func analysisOptions(reg *capability.Registry, cfg settings.Settings, sys *systems.Set) analyses.Options {
	if sys.Ollama == nil {
		return analyses.Options{Unavailable: ollama.Unavailable("writes root-cause analyses", sys.OllamaErr)}
	}
	an, err := analysis.New(cfg.Ollama, analysisQueue, nil)
	if err != nil {
		return analyses.Options{Unavailable: ollama.Unavailable("writes root-cause analyses", err)}
	}
	reg.OnDispose(an.Close)
	return analyses.Options{Run: func(ctx context.Context, job analyses.Job, progress func(analyses.Progress)) analyses.Outcome {
		return writeUp(ctx, an, job, progress)
	}}
}

// writeUp runs one analysis of a stored capture and reports its queue
// place and text as they change.
func writeUp(ctx context.Context, an *analysis.Analyzer, job analyses.Job, progress func(analyses.Progress)) analyses.Outcome {
	id := strconv.FormatInt(job.Incident.ID, 10)
	in, err := analysis.InputFromJSON(id, job.Evidence.Pack, job.Evidence.Findings)
	if err != nil {
		res := analysis.Result{Status: analysis.StatusFallback, Fallback: err.Error(), Model: an.Client().Model()}
		b, _ := json.Marshal(res)
		return analyses.Outcome{Result: b, Failed: true, Model: res.Model}
	}
	var text strings.Builder
	res, _ := an.Run(ctx, in, analysis.Events{
		Queued:  func(ahead int) { progress(analyses.Progress{Position: ahead}) },
		Attempt: func(int) { text.Reset(); progress(analyses.Progress{}) },
		Chunk: func(s string) {
			text.WriteString(s)
			summary, _ := analysis.PreviewSummary(text.String())
			progress(analyses.Progress{Text: text.String(), Summary: summary})
		},
	})
	b, err := json.Marshal(res)
	if err != nil {
		b, _ = json.Marshal(analysis.Result{Status: analysis.StatusFallback, Fallback: err.Error(), Model: res.Model})
	}
	return analyses.Outcome{Result: b, Failed: res.Status != analysis.StatusDone, Model: res.Model}
}

// proposing is the sign-off stage after a finished write-up: its root
// cause and each remediation step go up for review, pending (a step the
// guard judged runnable carries its allowlisted action, run only once a
// person approves it). Proposing an analysis again keeps its decisions.
func proposing(so *signoff.Capability) func(context.Context, incident.Analysis) {
	return func(ctx context.Context, a incident.Analysis) {
		list := Suggestions(a)
		if len(list) == 0 {
			return
		}
		svc, err := so.Service(ctx)
		if err != nil {
			log.DefaultLogger.Warn("the write-up's suggestions were not put up for sign-off", "incident", a.IncidentID, "error", err.Error())
			return
		}
		if _, err := svc.Propose(ctx, list); err != nil {
			log.DefaultLogger.Warn("the write-up's suggestions were not put up for sign-off", "incident", a.IncidentID, "error", err.Error())
		}
	}
}

// Suggestions are a finished write-up's suggestions for sign-off: the root
// cause as a whole (step 0), then each remediation step; none for an
// answer without a cause or a result that does not read.
func Suggestions(a incident.Analysis) []signoff.Suggestion {
	var res analysis.Result
	if json.Unmarshal(a.Result, &res) != nil || res.Status != analysis.StatusDone || res.Answer == nil {
		return nil
	}
	id := strconv.FormatInt(a.ID, 10)
	rc := res.Answer.RootCause
	text := res.Answer.Summary
	if rc.Cause != "" && rc.Cause != "none" {
		text = fmt.Sprintf("%s/%s: %s. %s", rc.Namespace, rc.Workload, rc.Cause, rc.Explanation)
	}
	list := []signoff.Suggestion{{Incident: a.IncidentID, Analysis: id, Step: 0, Text: text}}
	for i, step := range res.Answer.Remediation {
		sg := signoff.Suggestion{Incident: a.IncidentID, Analysis: id, Step: i + 1, Text: step.Action, Command: step.Command}
		if res.Guard != nil && i < len(res.Guard.Steps) {
			if chk := res.Guard.Steps[i]; chk.Runnable && chk.Action != nil {
				sg.Action = actions.FromGuard(string(chk.Action.Kind), chk.Action.Namespace, chk.Action.Name, chk.Action.Gate)
			}
		}
		list = append(list, sg)
	}
	return list
}

// offering runs the write-up stage after each capture: offer decides
// whether the captured evidence needs a (new) write-up. Incidents merged
// into another are written up as part of their root.
func offering(capture func(context.Context, incident.Incident, []incident.Record, time.Time) (incident.Evidence, error),
	offer func(context.Context, incident.Incident, incident.Evidence)) func(context.Context, incident.Incident, []incident.Record, time.Time) (incident.Evidence, error) {
	if capture == nil {
		return nil
	}
	return func(ctx context.Context, inc incident.Incident, recs []incident.Record, now time.Time) (incident.Evidence, error) {
		ev, err := capture(ctx, inc, recs, now)
		if err == nil && inc.MergedInto == 0 {
			offer(ctx, inc, ev)
		}
		return ev, err
	}
}

// reconciler reads a source's active alerts with read and turns them into
// the alert model with convert (its rejects are left out).
func reconciler[T any](name, target string, read func(context.Context) ([]T, error),
	convert func([]T, time.Time) intake.Parsed) *incidents.Reconciler {
	return &incidents.Reconciler{Name: name, Target: target, Active: func(ctx context.Context) ([]incident.Alert, error) {
		list, err := read(ctx)
		if err != nil {
			return nil, err
		}
		return convert(list, time.Now()).Alerts, nil
	}}
}

// captureWith is the evidence and detector stages over the configured
// systems: the pack from Prometheus (required), Loki and Tempo (when they
// can be read), and the findings the detectors draw from it. The whole
// pack is kept, so that every evidence id a finding cites can be shown;
// nil without Prometheus. canaryOf (optional) adds the subject's Flagger
// canary.
func captureWith(sys *systems.Set, canaryOf canaryLookup) func(context.Context, incident.Incident, []incident.Record, time.Time) (incident.Evidence, error) {
	if sys.Prometheus == nil {
		return nil
	}
	src := evidence.Sources{Prometheus: sys.Prometheus.API()}
	if sys.Loki != nil {
		src.Loki = sys.Loki
	}
	if sys.Tempo != nil {
		src.Tempo = sys.Tempo
	}
	return func(ctx context.Context, inc incident.Incident, recs []incident.Record, now time.Time) (incident.Evidence, error) {
		pack := evidence.Collect(ctx, src, evidence.FromIncident(inc, recs), now)
		if canaryOf != nil {
			pack.Canary = canaryOf(ctx, pack.Subject.Namespace, pack.Subject.Workload)
		}
		found := findings.Detect(&pack)
		packJSON, err := json.Marshal(pack)
		if err != nil {
			return incident.Evidence{}, err
		}
		foundJSON, err := json.Marshal(append([]findings.Finding{}, found...))
		if err != nil {
			return incident.Evidence{}, err
		}
		ev := incident.Evidence{CapturedAt: now, Pack: packJSON, Findings: foundJSON}
		if len(found) > 0 {
			top := found[0]
			ev.TopFinding = fmt.Sprintf("%s/%s: %s — %s", top.Namespace, top.Workload, top.Cause, top.Explanation)
		}
		for _, p := range pack.Partial {
			ev.Partial = append(ev.Partial, p.Source)
		}
		return ev, nil
	}
}

// canaryLookup finds a workload's Flagger canary as evidence (nil: none).
type canaryLookup func(ctx context.Context, namespace, workload string) *evidence.Canary

// alertsSource reads the alerts from Prometheus, or says why it cannot.
func alertsSource(sys *systems.Set) alerts.Source {
	if sys.Prometheus == nil {
		return alerts.Source{Unavailable: fmt.Errorf(
			"the MeshWatch settings for Prometheus are invalid: %v (an admin can fix them on the plugin's configuration page)", sys.PrometheusErr)}
	}
	c := sys.Prometheus
	return alerts.Source{Fetch: func(ctx context.Context) ([]alerts.Alert, error) { return alerts.Fetch(ctx, c) }}
}
