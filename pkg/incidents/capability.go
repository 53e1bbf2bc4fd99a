package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
)

// Reconciler reads everything one source has active now. Name is the
// incident source its alerts carry (incident.SourceAlertmanager or
// incident.SourcePrometheus) and Target where it reads them, for messages.
type Reconciler struct {
	Name   string
	Target string
	Active func(ctx context.Context) ([]incident.Alert, error)
}

// Options is what Register builds the capability from.
type Options struct {
	// StoreKey identifies the database (its path); Open opens it. Instances
	// with the same key share one open store and one reconcile loop.
	StoreKey string
	Open     func(ctx context.Context) (incident.Store, error)
	// StoreErr, when set, is why the store cannot be used (invalid storage
	// settings); Open is then not called.
	StoreErr error
	// Reconcile is nil when no source can be read (the reason in
	// ReconcileErr); Every is how often it runs.
	Reconcile    *Reconciler
	ReconcileErr error
	Every        time.Duration
	// Retention deletes incidents resolved longer ago than this (zero: keep).
	Retention time.Duration
	// BodyLimit caps a webhook body (zero: intake.DefaultLimit).
	BodyLimit int64
	// Capture, when set, assembles an open incident's evidence and findings
	// (the evidence and detector stages); the worker loop runs it for every
	// open incident whose last capture is older than CaptureEvery (zero:
	// a minute), and at once for a new or reopened incident. A capture that
	// fails is tried again on the next round; the incident is kept
	// regardless.
	Capture      func(ctx context.Context, inc incident.Incident, recs []incident.Record, now time.Time) (incident.Evidence, error)
	CaptureEvery time.Duration
	// Series reads the points of a capture's evidence series for the
	// detail page's charts (RouteSeries); nil without a Prometheus.
	Series SeriesFunc
	// Heartbeat re-sends the incidents frame when nothing changed (zero:
	// 30 s). Now is the clock (nil: time.Now).
	Heartbeat time.Duration
	Now       func() time.Time
	// Active, when set, says whether this replica is the active worker
	// (pkg/ha): only then does the loop reconcile, capture, regroup and
	// prune. Webhooks and reads are served either way.
	Active func() bool
}

// Service is one app instance's incident capability.
type Service struct {
	opts    Options
	store   incident.Store
	openErr error
	release func()
	hub     capability.Hub
	stop    func()
	// kick asks the reconcile loop to run now (a sender truncated a
	// delivery: the alerts it left out are in Alertmanager's API).
	kick chan struct{}
}

// Register opens the store, starts the reconcile loop and registers the
// intake routes, the incident routes, the "incidents" Live channel and the
// store's health line. A store that cannot be opened does not stop the
// instance: the routes answer 503 saying why, and health reports it.
func Register(reg *capability.Registry, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = intake.DefaultLimit
	}
	s := &Service{opts: o, release: func() {}, stop: func() {}, kick: make(chan struct{}, 1)}
	if o.StoreErr != nil {
		s.openErr = o.StoreErr
	} else {
		s.store, s.release, s.openErr = acquire(o.StoreKey, o.Open)
	}

	reg.Route(RouteAlertmanager, access.Require(access.Viewer, s.intake(incident.SourceAlertmanager, intake.DecodeAlertmanager)), http.MethodPost)
	reg.Route(RouteGrafana, access.Require(access.Viewer, s.intake(incident.SourceGrafana, intake.DecodeGrafana)), http.MethodPost)
	reg.Route(RouteIncidents, access.Require(access.Viewer, s.list), http.MethodGet)
	reg.Route(RouteIncidents+"/{id}", access.Require(access.Viewer, s.get), http.MethodGet)
	reg.Route(RouteSeries, access.Require(access.Viewer, s.series), http.MethodGet)
	reg.Stream(StreamPath, stream{s})
	reg.Health(health.Check{Name: "Storage", Target: o.StoreKey, Required: true, Fix: "storage.path", Probe: s.probe})
	if o.Reconcile == nil && o.ReconcileErr != nil {
		reg.HealthLine(health.Result{Name: "Alert reconcile", Status: health.Warning,
			Message: "alerts missed while Grafana or MeshWatch was down are not caught up: " + o.ReconcileErr.Error()})
	}
	if s.store != nil {
		s.stop = takeOver(o.StoreKey, s.loop)
	}
	reg.OnDispose(func() {
		s.stop()
		s.hub.Close()
		s.release()
	})
	return s
}

// storeUnavailable answers 503 when the store could not be opened.
func (s *Service) storeUnavailable(w http.ResponseWriter) bool {
	if s.store != nil {
		return false
	}
	httpjson.Error(w, http.StatusServiceUnavailable, "the incident store is unavailable", s.openErr.Error())
	return true
}

// intake takes one webhook delivery. Nothing is acknowledged before the
// store has committed it.
func (s *Service) intake(source string, decode func([]byte, time.Time) (intake.Parsed, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.storeUnavailable(w) {
			return
		}
		body, err := intake.Read(r.Body, s.opts.BodyLimit)
		if err != nil {
			intakeError(w, err)
			return
		}
		now := s.opts.Now()
		p, err := decode(body, now)
		if err != nil {
			intakeError(w, err)
			return
		}
		resp := IntakeResponse{Rejected: make([]Rejection, 0, len(p.Rejected)), Incidents: []int64{}}
		for _, rj := range p.Rejected {
			resp.Rejected = append(resp.Rejected, Rejection{Index: rj.Index, Alertname: rj.Alertname, Reason: rj.Reason})
		}
		if len(p.Alerts) == 0 {
			resp.Error = "no alert in the delivery is valid"
			if len(p.Rejected) == 0 {
				resp.Error = "the delivery has no alerts"
			}
			httpjson.Write(w, http.StatusUnprocessableEntity, resp)
			return
		}
		got, err := s.store.Ingest(r.Context(), now, incident.Batch{Source: source, Alerts: p.Alerts})
		if err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "the alerts were not stored; retry", err.Error())
			return
		}
		resp.Accepted = len(p.Alerts)
		for _, c := range got.Changes {
			resp.Incidents = append(resp.Incidents, c.Incident.ID)
		}
		if len(got.Changes) > 0 {
			s.hub.Changed()
		}
		if p.Delivery.TruncatedAlerts > 0 || (s.opts.Capture != nil && opened(got.Changes)) {
			s.wake()
		}
		httpjson.Write(w, http.StatusOK, resp)
	}
}

// Wake asks the worker loop for a round now: another replica took in a
// delivery that opened an incident (the PostgreSQL store's notification),
// and this one, the active worker, captures its evidence.
func (s *Service) Wake() { s.wake() }

// wake asks the worker loop for a round now.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// opened reports whether changes made or reopened an incident.
func opened(changes []incident.Change) bool {
	for _, c := range changes {
		if (c.Created || c.Reopened) && c.Incident.State == incident.StateOpen {
			return true
		}
	}
	return false
}

// intakeError answers a delivery that could not be read or decoded at all
// (400, 413 or 422, by intake.HTTPStatus), saying why.
func intakeError(w http.ResponseWriter, err error) {
	httpjson.Write(w, intake.HTTPStatus(err), IntakeResponse{Rejected: []Rejection{}, Incidents: []int64{}, Error: err.Error()})
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	if s.storeUnavailable(w) {
		return
	}
	q := r.URL.Query()
	f := incident.Filter{State: incident.State(q.Get("state")), Severity: q.Get("severity"), Namespace: q.Get("namespace"), Grouped: true}
	if f.State != "" && f.State != incident.StateOpen && f.State != incident.StateResolved {
		httpjson.Error(w, http.StatusBadRequest, "invalid state", fmt.Sprintf("state is %q or %q", incident.StateOpen, incident.StateResolved))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > incident.DefaultListLimit {
			httpjson.Error(w, http.StatusBadRequest, "invalid limit", fmt.Sprintf("limit is 1 to %d", incident.DefaultListLimit))
			return
		}
		f.Limit = n
	}
	list, err := s.store.List(r.Context(), f)
	if err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the incidents could not be read", err.Error())
		return
	}
	if list == nil {
		list = []incident.Incident{}
	}
	httpjson.Write(w, http.StatusOK, ListResponse{Incidents: list})
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	if s.storeUnavailable(w) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		httpjson.Error(w, http.StatusBadRequest, "invalid incident id", "an incident id is a positive integer")
		return
	}
	inc, recs, err := s.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, incident.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "no such incident", fmt.Sprintf("there is no incident %d (resolved incidents are kept for the retention period)", id))
	case err != nil:
		httpjson.Error(w, http.StatusServiceUnavailable, "the incident could not be read", err.Error())
	default:
		if recs == nil {
			recs = []incident.Record{}
		}
		resp := DetailResponse{Incident: inc, Alerts: recs}
		switch ev, err := s.store.Evidence(r.Context(), id); {
		case err == nil:
			resp.Evidence = &ev
		case !errors.Is(err, incident.ErrNotFound):
			httpjson.Error(w, http.StatusServiceUnavailable, "the incident's evidence could not be read", err.Error())
			return
		}
		if err := s.group(r.Context(), &resp); err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "the incident's group could not be read", err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, resp)
	}
}

// probe is the store's health line: it reads the schema version and counts
// the open incidents.
func (s *Service) probe(ctx context.Context) (health.Outcome, error) {
	if s.store == nil {
		return health.Outcome{}, s.openErr
	}
	v, err := s.store.SchemaVersion(ctx)
	if err != nil {
		return health.Outcome{}, err
	}
	open, err := s.store.List(ctx, incident.Filter{State: incident.StateOpen})
	if err != nil {
		return health.Outcome{}, err
	}
	return health.Outcome{Version: fmt.Sprintf("schema %d", v), Note: plural(len(open), "open incident")}, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// loop reconciles at once, then every Every and whenever a delivery was
// truncated by its sender, and prunes past the retention once an hour,
// until ctx ends.
func (s *Service) loop(ctx context.Context) {
	every := s.opts.Every
	if every <= 0 {
		every = time.Minute
	}
	var lastPrune time.Time
	for {
		wait := every
		if s.opts.Active == nil || s.opts.Active() {
			lastPrune = s.round(ctx, lastPrune)
		} else {
			wait = min(every, standbyPoll) // a standby: ready to take over soon after the lease
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-time.After(wait):
		}
	}
}

// round is one round of the active worker: reconcile, capture, regroup,
// and prune once an hour (it returns when it last pruned).
func (s *Service) round(ctx context.Context, lastPrune time.Time) time.Time {
	s.ReconcileOnce(ctx)
	if s.CaptureDue(ctx); s.opts.Capture != nil {
		_, _ = s.GroupOnce(ctx) // a store error: the next round tries again
	}
	if now := s.opts.Now(); s.opts.Retention > 0 && now.Sub(lastPrune) >= time.Hour {
		if _, err := s.store.Prune(ctx, now.Add(-s.opts.Retention)); err == nil {
			lastPrune = now
		}
	}
	return lastPrune
}

// standbyPoll is how often a standby replica's loop looks at the lease.
const standbyPoll = time.Second

// ReconcileOnce reads the reconcile source and applies it to the store as a
// complete batch; a source that cannot be read changes nothing (its alerts
// are not resolved because the source was down). It returns what the batch
// did, or why it did not run.
func (s *Service) ReconcileOnce(ctx context.Context) (incident.Ingested, error) {
	rc := s.opts.Reconcile
	if rc == nil || s.store == nil {
		return incident.Ingested{}, errors.New("nothing to reconcile with")
	}
	active, err := rc.Active(ctx)
	if err != nil {
		return incident.Ingested{}, err
	}
	got, err := s.store.Ingest(ctx, s.opts.Now(), incident.Batch{Source: rc.Name, Alerts: active, Complete: true})
	if err != nil {
		return got, err
	}
	if len(got.Changes) > 0 {
		s.hub.Changed()
	}
	return got, nil
}

// CaptureDue captures the evidence of every open incident whose last
// capture is older than CaptureEvery (or that has none), one after the
// other, and returns how many it saved.
func (s *Service) CaptureDue(ctx context.Context) int {
	if s.opts.Capture == nil || s.store == nil {
		return 0
	}
	every := s.opts.CaptureEvery
	if every <= 0 {
		every = time.Minute
	}
	open, err := s.store.List(ctx, incident.Filter{State: incident.StateOpen, Limit: maxCapturesPerRound})
	if err != nil {
		return 0
	}
	saved := 0
	for _, inc := range open {
		now := s.opts.Now()
		if ev, err := s.store.Evidence(ctx, inc.ID); err == nil && now.Sub(ev.CapturedAt) < every {
			continue
		}
		_, recs, err := s.store.Get(ctx, inc.ID)
		if err != nil {
			continue
		}
		ev, err := s.opts.Capture(ctx, inc, recs, now)
		if err != nil || ctx.Err() != nil {
			continue
		}
		if ev.CapturedAt.IsZero() {
			ev.CapturedAt = now
		}
		if err := s.store.SaveEvidence(ctx, inc.ID, ev); err == nil {
			saved++
			s.hub.Changed()
		}
	}
	return saved
}

// maxCapturesPerRound bounds the open incidents one round captures (the
// most recently updated first).
const maxCapturesPerRound = 50

// frame is the current incidents frame, or an error frame saying why there
// is none.
func (s *Service) frame(ctx context.Context) *data.Frame {
	if s.store == nil {
		return ErrorFrame("the incident store is unavailable: " + s.openErr.Error())
	}
	list, err := s.store.List(ctx, incident.Filter{Grouped: true})
	if err != nil {
		return ErrorFrame("the incidents could not be read: " + err.Error())
	}
	return Frame(list)
}

type stream struct{ s *Service }

// Subscribe lets any signed-in user join; every role sees the same list.
func (st stream) Subscribe(ctx context.Context, u *access.User, _ json.RawMessage) ([]byte, error) {
	if u == nil {
		return nil, capability.ErrForbidden
	}
	return json.Marshal(st.s.frame(ctx))
}

// Run sends the list at once, again whenever an ingest or reconcile changed
// an incident, and at least every Heartbeat.
func (st stream) Run(ctx context.Context, _ json.RawMessage, send func(*data.Frame) error) error {
	return capability.Feed(ctx, &st.s.hub, st.s.opts.Heartbeat, 0, func() *data.Frame { return st.s.frame(ctx) }, send)
}
