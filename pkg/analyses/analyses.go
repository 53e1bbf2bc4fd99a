// Package analyses is the write-up stage of the incident pipeline
// (intake → group → evidence → detectors → write-up → sign-off) as a
// capability: after each evidence capture it decides whether the incident
// needs a (new) LLM write-up, runs it in the background through the
// analysis runner (pkg/analysis over Ollama, one at a time per model),
// streams its progress — the queue position, then the text as the model
// writes it — on one Live channel per incident (analysis/<id>), and stores
// the finished result with the incident. The deterministic findings never
// wait for it: they are on the page from the capture on.
//
// An incident is analysed once per basis: the top finding's workload and
// cause. A later capture that blames another workload or cause asks again;
// one that only refreshes the numbers does not. A failed write-up (Ollama
// down, invalid answers) is tried again after Options.Retry. Editors can ask
// for a fresh write-up at any time.
package analyses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Job is what one write-up is asked about.
type Job struct {
	Incident incident.Incident
	Evidence incident.Evidence
	// Basis is Basis(Evidence.Findings).
	Basis string
}

// Progress is how far a running write-up is: Position > 0 while it waits
// behind that many others for the model, 0 once the model writes; Text is
// what the model has written so far, Summary the summary read out of it
// (the page shows words, not JSON, while the model writes).
type Progress struct {
	Position int
	Text     string
	Summary  string
}

// Outcome is a finished write-up: Result is the JSON to store and show
// (the answer with the guard's verdicts, or the fallback saying why there
// is none), Failed when there is no usable answer.
type Outcome struct {
	Result json.RawMessage
	Failed bool
	Model  string
}

// RunFunc writes one analysis, calling progress as it goes. It always
// returns an Outcome (a failure is an Outcome with Failed and the reason in
// Result), unless ctx ended.
type RunFunc func(ctx context.Context, job Job, progress func(Progress)) Outcome

// Options is what Register builds the capability from.
type Options struct {
	// Run writes analyses; nil when no LLM is configured (Unavailable says
	// why, and the page shows it beside the deterministic findings).
	Run         RunFunc
	Unavailable string
	// Retry is how long after a failed write-up the same basis is tried
	// again (zero: 5 minutes).
	Retry time.Duration
	// Stored, when set, is the sign-off stage: it runs after a finished
	// write-up (outcome done) is stored, with its store id, to put its
	// suggestions up for review.
	Stored func(ctx context.Context, a incident.Analysis)
	// Heartbeat re-sends an unchanged frame (zero: 30 s); Now is the clock.
	Heartbeat time.Duration
	Now       func() time.Time
}

// Store is what the capability needs of the incident store.
type Store interface {
	Get(ctx context.Context, id int64) (incident.Incident, []incident.Record, error)
	Evidence(ctx context.Context, id int64) (incident.Evidence, error)
	incident.AnalysisStore
}

// Service is one app instance's write-up capability.
type Service struct {
	opts Options

	mu     sync.Mutex
	store  Store
	jobs   map[int64]*running
	tried  map[int64]tried // the last failed basis per incident, and when
	notify *capability.Hub
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type tried struct {
	basis string
	at    time.Time
}

// running is one write-up in progress.
type running struct {
	basis    string
	progress Progress
}

// New builds the service; Register makes it serve.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Minute
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: o, jobs: map[int64]*running{}, tried: map[int64]tried{}, notify: &capability.Hub{}, ctx: ctx, cancel: cancel}
}

// Register gives the service its store (nil: the incident store could not
// be opened; the routes say so) and registers its routes, its Live channels
// and what stops on Dispose: the write-ups in progress are cancelled.
func (s *Service) Register(reg *capability.Registry, store Store) {
	s.mu.Lock()
	s.store = store
	s.mu.Unlock()
	read, rerun := access.Require(access.Viewer, s.get), access.Require(access.Editor, s.rerun)
	reg.Route(RouteAnalysis, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			rerun(w, r)
			return
		}
		read(w, r)
	}, http.MethodGet, http.MethodPost)
	reg.StreamFamily(StreamPrefix, func(rest string) (capability.Stream, bool) {
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || id < 1 || strconv.FormatInt(id, 10) != rest {
			return nil, false
		}
		return stream{s, id}, true
	})
	reg.OnDispose(s.close)
}

func (s *Service) close() {
	s.cancel()
	s.wg.Wait()
	s.notify.Close()
}

// Offer is the write-up stage's entry, called after each evidence capture
// of an open incident: it starts a write-up when the capture's basis has
// none yet (or only a failed one, older than Retry), and does nothing
// otherwise. It does not wait for the model.
func (s *Service) Offer(ctx context.Context, inc incident.Incident, ev incident.Evidence) {
	if s.opts.Run == nil || inc.State != incident.StateOpen {
		return
	}
	basis := Basis(ev.Findings)
	s.mu.Lock()
	store := s.store
	_, busy := s.jobs[inc.ID]
	last, failedBefore := s.tried[inc.ID]
	s.mu.Unlock()
	if store == nil || busy {
		return
	}
	if failedBefore && last.basis == basis && s.opts.Now().Sub(last.at) < s.opts.Retry {
		return
	}
	prev, err := store.LatestAnalysis(ctx, inc.ID)
	switch {
	case err == nil && prev.Basis == basis && prev.Outcome == incident.WriteUpDone:
		return
	case err == nil && prev.Basis == basis && s.opts.Now().Sub(prev.FinishedAt) < s.opts.Retry:
		return
	case err != nil && !errors.Is(err, incident.ErrNotFound):
		return // the store is failing; the next capture offers again
	}
	s.start(Job{Incident: inc, Evidence: ev, Basis: basis})
}

// start runs job in the background unless one is running for the incident.
func (s *Service) start(job Job) bool {
	id := job.Incident.ID
	s.mu.Lock()
	if _, busy := s.jobs[id]; busy || s.ctx.Err() != nil {
		s.mu.Unlock()
		return false
	}
	r := &running{basis: job.Basis, progress: Progress{Position: 1}}
	s.jobs[id] = r
	s.wg.Add(1)
	s.mu.Unlock()
	s.notify.Changed()
	go func() {
		defer s.wg.Done()
		s.run(job, r)
	}()
	return true
}

func (s *Service) run(job Job, r *running) {
	id := job.Incident.ID
	started := s.opts.Now()
	out := s.opts.Run(s.ctx, job, func(p Progress) {
		s.mu.Lock()
		r.progress = p
		s.mu.Unlock()
		s.notify.Changed()
	})
	defer func() {
		s.mu.Lock()
		delete(s.jobs, id)
		s.mu.Unlock()
		s.notify.Changed()
	}()
	if s.ctx.Err() != nil {
		return // disposed: the next instance offers again
	}
	a := incident.Analysis{IncidentID: id, EvidenceAt: job.Evidence.CapturedAt, StartedAt: started, FinishedAt: s.opts.Now(),
		Model: out.Model, Basis: job.Basis, Outcome: incident.WriteUpDone, Result: out.Result}
	if out.Failed {
		a.Outcome = incident.WriteUpFailed
	}
	if len(a.Result) == 0 || !json.Valid(a.Result) {
		a.Outcome, a.Result = incident.WriteUpFailed, mustJSON(map[string]string{"fallback": "the analysis returned nothing"})
	}
	s.mu.Lock()
	store := s.store
	if a.Outcome == incident.WriteUpFailed {
		s.tried[id] = tried{basis: job.Basis, at: a.FinishedAt}
	} else {
		delete(s.tried, id)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	saved, err := store.SaveAnalysis(ctx, a)
	if err != nil {
		return // an incident pruned meanwhile: nothing to keep
	}
	if a.Outcome == incident.WriteUpDone && s.opts.Stored != nil {
		a.ID = saved
		s.opts.Stored(ctx, a)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Basis is what a capture's findings (pkg/findings' ranked JSON) ask the
// write-up about: the top finding's "namespace/workload cause", or "none"
// when there is no finding.
func Basis(findingsJSON json.RawMessage) string {
	var list []struct {
		Namespace string `json:"namespace"`
		Workload  string `json:"workload"`
		Cause     string `json:"cause"`
	}
	if json.Unmarshal(findingsJSON, &list) != nil || len(list) == 0 || list[0].Cause == "" || list[0].Cause == "none" {
		return "none"
	}
	return fmt.Sprintf("%s/%s %s", list[0].Namespace, list[0].Workload, list[0].Cause)
}

// State is what the page shows for an incident's write-up.
func (s *Service) State(ctx context.Context, id int64) Response {
	s.mu.Lock()
	r, busy := s.jobs[id]
	var p Progress
	if busy {
		p = r.progress
	}
	store := s.store
	s.mu.Unlock()
	resp := Response{IncidentID: id, State: StateNone, Unavailable: s.opts.Unavailable}
	if store != nil {
		if a, err := store.LatestAnalysis(ctx, id); err == nil {
			resp.Analysis = &a
			resp.State = a.Outcome
		}
	}
	switch {
	case busy && p.Position > 0:
		resp.State, resp.Position = StateQueued, p.Position
	case busy:
		resp.State, resp.Text, resp.Summary = StateWriting, p.Text, p.Summary
	case resp.Analysis == nil && s.opts.Run == nil:
		resp.State = StateUnavailable
	}
	return resp
}

func (s *Service) storeOr503(w http.ResponseWriter) Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the incident store is unavailable", "see the Storage line of the health check")
	}
	return s.store
}

func incidentID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		httpjson.Error(w, http.StatusBadRequest, "invalid incident id", "an incident id is a positive integer")
		return 0, false
	}
	return id, true
}

// get answers the incident's write-up: the stored one and what is running.
func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	store := s.storeOr503(w)
	if store == nil {
		return
	}
	if _, _, err := store.Get(r.Context(), id); errors.Is(err, incident.ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "no such incident", fmt.Sprintf("there is no incident %d", id))
		return
	}
	httpjson.Write(w, http.StatusOK, s.State(r.Context(), id))
}

// rerun asks for a fresh write-up of the incident's latest evidence (an
// Editor's "Analyse again"): 202 when it started, 409 while one runs, 503
// without an LLM, 422 before any evidence capture.
func (s *Service) rerun(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	store := s.storeOr503(w)
	if store == nil {
		return
	}
	if s.opts.Run == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "no LLM is configured", s.opts.Unavailable)
		return
	}
	inc, _, err := store.Get(r.Context(), id)
	if errors.Is(err, incident.ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "no such incident", fmt.Sprintf("there is no incident %d", id))
		return
	} else if err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the incident could not be read", err.Error())
		return
	}
	ev, err := store.Evidence(r.Context(), id)
	if errors.Is(err, incident.ErrNotFound) {
		httpjson.Error(w, http.StatusUnprocessableEntity, "no evidence yet",
			"the incident's evidence has not been captured yet; the write-up starts on its own once it is")
		return
	} else if err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the incident's evidence could not be read", err.Error())
		return
	}
	if !s.start(Job{Incident: inc, Evidence: ev, Basis: Basis(ev.Findings)}) {
		httpjson.Error(w, http.StatusConflict, "a write-up is already running", "wait for it to finish")
		return
	}
	httpjson.Write(w, http.StatusAccepted, s.State(r.Context(), id))
}

type stream struct {
	s  *Service
	id int64
}

// Subscribe lets any signed-in user follow a write-up.
func (st stream) Subscribe(ctx context.Context, u *access.User, _ json.RawMessage) ([]byte, error) {
	if u == nil {
		return nil, capability.ErrForbidden
	}
	return json.Marshal(Frame(st.s.State(ctx, st.id)))
}

// minGap keeps a fast model's tokens from turning into a frame each.
const minGap = 150 * time.Millisecond

// Run sends the write-up's state at once and on every change (the changes
// of minGap go out as one frame), and at least every Heartbeat.
func (st stream) Run(ctx context.Context, _ json.RawMessage, send func(*data.Frame) error) error {
	return capability.Feed(ctx, st.s.notify, st.s.opts.Heartbeat, minGap,
		func() *data.Frame { return Frame(st.s.State(ctx, st.id)) }, send)
}
