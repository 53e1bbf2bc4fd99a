package canaries

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

// Options is what Register builds the capability from.
type Options struct {
	// Kube reads the canaries and their events; KubeErr says why there is
	// none (disabled, invalid settings).
	Kube    *kubernetes.Client
	KubeErr error
	// Namespaces limits the watch (empty: every namespace RBAC allows
	// listing, which then needs a ClusterRole).
	Namespaces []string
	// Prometheus, when set, gives the analysis values Flagger exports
	// (flagger_canary_metric_analysis, flagger_canary_status).
	Prometheus v1.API
	// Gates records every gate decision and keeps the intents (nil: an
	// in-memory audit log).
	Gates Gates
	// Role may sign off (zero: Editor); service accounts never may.
	Role access.Role
	// Resync hands every cached canary to the handlers again (zero: 5
	// minutes); GateEvery is how often the gates are checked and
	// re-applied (zero: 15 s); Heartbeat re-sends an unchanged frame (zero:
	// 30 s).
	Resync    time.Duration
	GateEvery time.Duration
	Heartbeat time.Duration
	Now       func() time.Time
	// Raise, when set, takes the failed canaries as alerts after each gate
	// check (FailedAlerts), so a rollback becomes an incident.
	Raise Raise
	// Active, when set, says whether this replica is the active worker:
	// only it re-applies the gates and raises the failed canaries (several
	// Grafana replicas share one store). Decisions are taken on any.
	Active func() bool
}

// Service is one app instance's canary capability.
type Service struct {
	o        Options
	canaries []cache.SharedIndexInformer
	events   []cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     sync.WaitGroup
	hub      capability.Hub

	mu       sync.Mutex
	watchErr map[int]error // by informer
	gateErr  error
	raiseErr error // the last Raise's
	prom     promValues
	lts      map[string]*loadtester.Client
}

// promValues is the last read of Flagger's metrics.
type promValues struct {
	at      time.Time
	err     error
	metrics map[string]map[string]float64 // namespace/target -> metric -> value
	status  map[string]int                // namespace/target -> flagger_canary_status
	weight  map[string]int                // namespace/workload -> flagger_canary_weight
}

// promEvery is how often the analysis values are read again at most.
const promEvery = 10 * time.Second

// start runs the informers and the gate loop until Stop.
func (s *Service) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, inf := range append(append([]cache.SharedIndexInformer{}, s.canaries...), s.events...) {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { s.hub.Changed() },
			UpdateFunc: func(any, any) { s.hub.Changed() },
			DeleteFunc: func(any) { s.hub.Changed() },
		})
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			inf.RunWithContext(ctx)
		}()
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.gateLoop(ctx)
	}()
}

// Stop ends the informers and the gate loop and waits for them.
func (s *Service) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.done.Wait()
	s.hub.Close()
	s.mu.Lock()
	for _, lt := range s.lts {
		lt.Release()
	}
	s.mu.Unlock()
}

// Synced reports whether every informer has listed once.
func (s *Service) Synced() bool {
	for _, inf := range append(append([]cache.SharedIndexInformer{}, s.canaries...), s.events...) {
		if !inf.HasSynced() {
			return false
		}
	}
	return len(s.canaries) > 0
}

// watchError is why the canaries cannot be read now, or nil.
func (s *Service) watchError() error {
	if s.o.Kube == nil {
		if s.o.KubeErr != nil {
			return s.o.KubeErr
		}
		return errors.New("no Kubernetes API access is configured")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i := 0; i < len(s.canaries)+len(s.events); i++ {
		if err := s.watchErr[i]; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) setWatchErr(i int) func(error) {
	return func(err error) {
		s.mu.Lock()
		prev := s.watchErr[i]
		s.watchErr[i] = err
		s.mu.Unlock()
		if (prev == nil) != (err == nil) {
			s.hub.Changed()
		}
	}
}

// Snapshot is every watched canary, with its events' history, analysis
// values and gate intents, ordered by namespace and name.
func (s *Service) Snapshot(ctx context.Context) []Canary {
	events := map[string][]Event{}
	for _, inf := range s.events {
		for _, o := range inf.GetStore().List() {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if ev, ok := EventFromObject(u.Object); ok {
				k := ev.Namespace + "/" + ev.Canary
				events[k] = append(events[k], ev)
			}
		}
	}
	pv := s.promRead(ctx)
	intents, _ := s.intents(ctx)
	out := []Canary{}
	for _, inf := range s.canaries {
		for _, o := range inf.GetStore().List() {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			c := FromObject(u.Object)
			c.History = History(events[c.Namespace+"/"+c.Name])
			applyProm(&c, pv)
			applyIntents(&c, intents)
			c.AwaitingDecision = awaiting(c)
			out = append(out, c)
		}
	}
	Sort(out)
	return out
}

// Canary is one canary from the snapshot.
func (s *Service) Canary(ctx context.Context, namespace, name string) (Canary, bool) {
	for _, c := range s.Snapshot(ctx) {
		if c.Namespace == namespace && c.Name == name {
			return c, true
		}
	}
	return Canary{}, false
}

// ForWorkload is the canary whose target (or its primary) is workload in
// namespace: the canary an incident of that workload is about (Flagger's
// rollback alert carries the target's name), for the incident's evidence.
func (s *Service) ForWorkload(ctx context.Context, namespace, workload string) (Canary, bool) {
	for _, c := range s.Snapshot(ctx) {
		if c.Namespace == namespace && c.TargetName != "" && (workload == c.TargetName || workload == c.TargetName+"-primary") {
			return c, true
		}
	}
	return Canary{}, false
}

func (s *Service) intents(ctx context.Context) ([]Intent, error) {
	return s.o.Gates.Intents(ctx)
}

// applyIntents puts the intents on the canary's gates and its decisions in
// its history.
func applyIntents(c *Canary, intents []Intent) {
	msg := describe
	for _, in := range intents {
		if in.Namespace != c.Namespace || in.Name != c.Name {
			continue
		}
		for i := range c.Gates {
			g := &c.Gates[i]
			if gateOf(g.Type) == in.Gate {
				g.Open, g.By, g.At, g.Comment = in.Open, in.By, in.At, in.Comment
			}
		}
		c.History = insertHistory(c.History, HistoryEntry{At: in.At, Kind: HistoryGate, Message: msg(in)})
	}
}

// insertHistory adds e in time order.
func insertHistory(h []HistoryEntry, e HistoryEntry) []HistoryEntry {
	i := len(h)
	for i > 0 && h[i-1].At.After(e.At) {
		i--
	}
	h = append(h, HistoryEntry{})
	copy(h[i+1:], h[i:])
	h[i] = e
	return h
}

// gateOf is the load tester gate a webhook type asks.
func gateOf(hookType string) loadtester.Gate {
	if hookType == HookRollback {
		return loadtester.Rollback
	}
	return loadtester.Confirm
}

// applyProm puts the analysis values on the canary's metrics (Flagger
// labels them with the target's name, not the Canary's).
func applyProm(c *Canary, pv promValues) {
	k := c.Namespace + "/" + c.TargetName
	if st, ok := pv.status[k]; ok {
		c.Status = st
	}
	// Flagger zeroes status.canaryWeight in WaitingPromotion while the
	// traffic stays split: its weight gauge still has the canary's share.
	if c.Phase == PhaseWaitingPromotion && c.Weight == 0 {
		if w, ok := pv.weight[k]; ok {
			c.Weight = w
		} else {
			c.Weight = c.MaxWeight // it waits only at the maximum weight
		}
	}
	vals := pv.metrics[k]
	for i := range c.Metrics {
		m := &c.Metrics[i]
		if v, ok := vals[m.Name]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			v := v
			p := passing(v, m.Min, m.Max)
			m.Value, m.Passing = &v, &p
		}
	}
}

// promRead returns Flagger's metrics, read again when older than promEvery.
func (s *Service) promRead(ctx context.Context) promValues {
	if s.o.Prometheus == nil {
		return promValues{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	if !s.prom.at.IsZero() && now.Sub(s.prom.at) < promEvery {
		return s.prom
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pv := promValues{at: now, metrics: map[string]map[string]float64{}, status: map[string]int{}, weight: map[string]int{}}
	if vec, err := s.query(ctx, "flagger_canary_metric_analysis", now); err != nil {
		pv.err = err
	} else {
		for _, smp := range vec {
			k := string(smp.Metric["namespace"]) + "/" + string(smp.Metric["name"])
			if pv.metrics[k] == nil {
				pv.metrics[k] = map[string]float64{}
			}
			pv.metrics[k][string(smp.Metric["metric"])] = float64(smp.Value)
		}
	}
	if vec, err := s.query(ctx, "flagger_canary_status", now); err != nil {
		pv.err = err
	} else {
		for _, smp := range vec {
			pv.status[string(smp.Metric["namespace"])+"/"+string(smp.Metric["name"])] = int(smp.Value)
		}
	}
	if vec, err := s.query(ctx, "flagger_canary_weight", now); err != nil {
		pv.err = err
	} else {
		for _, smp := range vec {
			pv.weight[string(smp.Metric["namespace"])+"/"+string(smp.Metric["workload"])] = int(smp.Value)
		}
	}
	s.prom = pv
	return pv
}

func (s *Service) query(ctx context.Context, q string, at time.Time) (model.Vector, error) {
	v, _, err := s.o.Prometheus.Query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("%s: not an instant vector", q)
	}
	return vec, nil
}

// WeightHistory is the canary's weight steps from Prometheus
// (flagger_canary_weight of its target) over the last window, for the
// time before its oldest event (Kubernetes keeps events an hour): one entry
// per change of weight.
func (s *Service) WeightHistory(ctx context.Context, c Canary, window time.Duration) []HistoryEntry {
	if s.o.Prometheus == nil || c.TargetName == "" {
		return nil
	}
	end := s.o.Now()
	q := fmt.Sprintf(`flagger_canary_weight{namespace=%q,workload=%q}`, c.Namespace, c.TargetName)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, _, err := s.o.Prometheus.QueryRange(ctx, q, v1.Range{Start: end.Add(-window), End: end, Step: 15 * time.Second})
	if err != nil {
		return nil
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) == 0 {
		return nil
	}
	return weightSteps(m[0].Values)
}

// weightSteps is one history entry per change of the canary weight.
func weightSteps(vals []model.SamplePair) []HistoryEntry {
	var out []HistoryEntry
	prev := -1.0
	for _, p := range vals {
		w := float64(p.Value)
		if w == prev {
			continue
		}
		if prev >= 0 {
			kind := HistoryProgression
			if w < prev {
				kind = HistoryInfo
			}
			out = append(out, HistoryEntry{At: p.Timestamp.Time().UTC(), Kind: kind,
				Message: fmt.Sprintf("Canary weight %g%% → %g%% (flagger_canary_weight)", prev, w)})
		}
		prev = w
	}
	return out
}

// withWeightHistory merges the weight steps that precede c's oldest event.
func withWeightHistory(c Canary, steps []HistoryEntry) Canary {
	var oldest time.Time
	for _, h := range c.History {
		if h.Kind != HistoryGate && (oldest.IsZero() || h.At.Before(oldest)) {
			oldest = h.At
		}
	}
	for _, e := range steps {
		if oldest.IsZero() || e.At.Before(oldest) {
			c.History = insertHistory(c.History, e)
		}
	}
	return c
}

// shortErr is err's message on one line.
func shortErr(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
