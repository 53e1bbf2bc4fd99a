package canaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/signoff"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
)

// maxComment bounds a sign-off's comment.
const maxComment = 2000

// New builds the service and its informers without starting them (tests
// start it with Start).
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.Resync <= 0 {
		o.Resync = 5 * time.Minute
	}
	if o.Gates == nil {
		o.Gates = MemoryGates()
	}
	if o.Role != access.Admin {
		o.Role = access.Editor
	}
	s := &Service{o: o, watchErr: map[int]error{}}
	if o.Kube == nil {
		return s
	}
	nss := o.Namespaces
	if len(nss) == 0 {
		nss = []string{""}
	}
	i := 0
	for _, ns := range nss {
		s.canaries = append(s.canaries, o.Kube.Informer(kubernetes.Watch{Resource: kubernetes.CanaryResource, Namespace: ns, Resync: o.Resync}, s.setWatchErr(i)))
		i++
	}
	for _, ns := range nss {
		s.events = append(s.events, o.Kube.Informer(kubernetes.Watch{Resource: kubernetes.EventResource, Namespace: ns,
			FieldSelector: kubernetes.CanaryEventSelector, Resync: o.Resync}, s.setWatchErr(i)))
		i++
	}
	return s
}

// Start runs the informers and the gate loop; Stop ends them.
func (s *Service) Start() { s.start() }

// Register builds the canary capability and registers its routes (Viewer
// reads, Editor signs off), the "canaries" Live channel and its health
// line; the informers and the gate loop stop when the instance is disposed.
func Register(reg *capability.Registry, o Options) *Service {
	s := New(o)
	reg.Route(RouteCanaries, access.Require(access.Viewer, s.list), http.MethodGet)
	reg.Route("/canaries/{namespace}/{name}", access.Require(access.Viewer, s.get), http.MethodGet)
	reg.Route(RouteDecision, access.Require(s.o.Role, s.decide), http.MethodPost)
	reg.Stream(StreamPath, stream{s})
	target := "disabled"
	if o.Kube != nil {
		target = o.Kube.Target()
	}
	if o.Kube != nil { // without a client the Kubernetes API line says why
		reg.Health(health.Check{Name: "Flagger canaries", Target: target, Fix: "kubernetes.namespaces; deploy/'s RBAC", Probe: s.probe})
		s.Start()
	}
	reg.OnDispose(s.Stop)
	return s
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	resp := ListResponse{Canaries: s.Snapshot(r.Context())}
	if err := s.watchError(); err != nil {
		if s.o.Kube == nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "canaries are unavailable", shortErr(err))
			return
		}
		resp.Error = staleText(err)
	}
	httpjson.Write(w, http.StatusOK, resp)
}

// ListErr is why the canaries listed may be stale, as GET /canaries says
// it (nil when they are current).
func (s *Service) ListErr() error {
	if err := s.watchError(); err != nil {
		return errors.New(staleText(err))
	}
	return nil
}

// staleText says what a watch error means for what is shown.
func staleText(err error) string {
	msg := shortErr(err)
	if kubernetes.Forbidden(err) {
		msg += " — the plugin's ServiceAccount lacks get/list/watch on canaries or events: apply deploy/'s RBAC"
	}
	return "the canaries shown may be out of date: " + msg
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	c, ok := s.Canary(r.Context(), ns, name)
	if !ok {
		httpjson.Error(w, http.StatusNotFound, "no such canary", fmt.Sprintf("MeshWatch watches no canary %s/%s", ns, name))
		return
	}
	c = withWeightHistory(c, s.WeightHistory(r.Context(), c, time.Hour))
	httpjson.Write(w, http.StatusOK, c)
}

func (s *Service) decide(w http.ResponseWriter, r *http.Request) {
	ns, name, decision := r.PathValue("namespace"), r.PathValue("name"), r.PathValue("decision")
	if decision != DecisionPromote && decision != DecisionRollback {
		httpjson.Error(w, http.StatusNotFound, "no such decision", fmt.Sprintf("a canary takes %q or %q, not %q", DecisionPromote, DecisionRollback, decision))
		return
	}
	if signoff.IsServiceAccount(access.UserFrom(r.Context())) {
		httpjson.Error(w, http.StatusForbidden, "permission denied", "a service account may not sign off a canary: a person decides")
		return
	}
	var req DecisionRequest
	if !httpjson.Decode(w, r, 16<<10, &req) {
		return
	}
	req.Comment = strings.TrimSpace(req.Comment)
	switch {
	case req.Comment == "":
		httpjson.Error(w, http.StatusBadRequest, "a comment is required", "say why you "+decision+" this canary: the comment is recorded with your sign-off")
		return
	case len(req.Comment) > maxComment:
		httpjson.Error(w, http.StatusBadRequest, "the comment is too long", fmt.Sprintf("at most %d characters", maxComment))
		return
	}
	c, applied, err := s.Decide(r.Context(), access.UserFrom(r.Context()), ns, name, decision, req.Comment)
	switch {
	case errors.Is(err, ErrNoSuchCanary):
		httpjson.Error(w, http.StatusNotFound, "no such canary", err.Error())
	case errors.Is(err, ErrNotGated):
		httpjson.Error(w, http.StatusConflict, "nothing to decide", err.Error())
	case err != nil:
		httpjson.Error(w, http.StatusServiceUnavailable, "the decision was not taken", err.Error())
	default:
		resp := DecisionResponse{Canary: c, Applied: applied}
		if !applied {
			resp.Note = "the decision is recorded and kept, but the load tester could not be told now; MeshWatch sets the gate as soon as it answers"
		}
		httpjson.Write(w, http.StatusOK, resp)
	}
}

// probe is the health line: the watch works (and how many canaries, how
// many await a decision), and the gates could be set.
func (s *Service) probe(ctx context.Context) (health.Outcome, error) {
	// A fresh instance lists first: wait for it a little (the first health
	// check usually comes right after start).
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for !s.Synced() && s.watchError() == nil && wait.Err() == nil {
		select {
		case <-wait.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := s.watchError(); err != nil {
		return health.Outcome{}, err
	}
	if !s.Synced() {
		return health.Outcome{Version: kubernetes.FlaggerGroupVersion, Warn: "the canary watch has not listed yet"}, nil
	}
	list := s.Snapshot(ctx)
	waiting := 0
	for _, c := range list {
		if c.AwaitingDecision {
			waiting++
		}
	}
	note := fmt.Sprintf("%d canaries watched, %d awaiting a decision", len(list), waiting)
	if err := s.gateError(); err != nil {
		return health.Outcome{Version: kubernetes.FlaggerGroupVersion, Note: note, Warn: "gates could not all be set (MeshWatch retries): " + shortErr(err)}, nil
	}
	if err := s.raiseError(); err != nil {
		return health.Outcome{Version: kubernetes.FlaggerGroupVersion, Note: note, Warn: "failed canaries could not be opened as incidents (MeshWatch retries): " + shortErr(err)}, nil
	}
	return health.Outcome{Version: kubernetes.FlaggerGroupVersion, Note: note}, nil
}

// frame is the canaries frame now, or an error frame saying why not.
func (s *Service) frame(ctx context.Context) *data.Frame {
	list := s.Snapshot(ctx)
	f := Frame(list)
	if err := s.watchError(); err != nil {
		f.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityError, Text: staleText(err)}}
	}
	return f
}

type stream struct{ s *Service }

// Subscribe lets any signed-in user join; every role sees the same canaries.
func (st stream) Subscribe(ctx context.Context, u *access.User, _ json.RawMessage) ([]byte, error) {
	if u == nil {
		return nil, capability.ErrForbidden
	}
	return json.Marshal(st.s.frame(ctx))
}

// Run sends the canaries at once, again whenever the watch saw a change or
// a decision was taken, and at least every Heartbeat; changes closer than
// a second apart are sent together.
func (st stream) Run(ctx context.Context, _ json.RawMessage, send func(*data.Frame) error) error {
	return capability.Feed(ctx, &st.s.hub, st.s.o.Heartbeat, time.Second, func() *data.Frame { return st.s.frame(ctx) }, send)
}
