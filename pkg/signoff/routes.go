package signoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
)

// Options is what Register builds the capability from.
type Options struct {
	// Open opens the audit store (the incident database); StoreErr, when
	// set, is why it cannot be (Open is then not called). Close, if set,
	// releases what Open returned on Dispose.
	Open     func(ctx context.Context) (audit.Store, error)
	Close    func(audit.Store)
	StoreErr error
	// Role is the least org role that may decide (settings signOff.role;
	// "" means Editor).
	Role access.Role
	// Executor runs approved actions (nil: every step stays advice).
	Executor *actions.Executor
	// Evidence reads an incident's evidence capture for the scenario export
	// (nil: exported without it).
	Evidence func(ctx context.Context, incident int64) (pack, findings json.RawMessage, err error)
	Now      func() time.Time
}

// Capability is one app instance's sign-off capability.
type Capability struct {
	opts Options
	role access.Role

	mu      sync.Mutex
	svc     *Service
	store   audit.Store
	openErr error
}

// Register registers the sign-off routes and the store's health line. The
// store is opened on first use, so an instance that never signs anything
// off opens nothing.
func Register(reg *capability.Registry, o Options) *Capability {
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Capability{opts: o, role: o.Role}
	if c.role == "" {
		c.role = access.Editor
	}
	decider := c.requireDecider
	reg.Route(RouteIncident+"/{id}/suggestions", access.Require(access.Viewer, c.reviews), http.MethodGet)
	reg.Route(RouteIncident+"/{id}/audit", access.Require(access.Viewer, c.trail), http.MethodGet)
	reg.Route(RouteIncident+"/{id}/scenario", access.Require(access.Admin, c.scenario), http.MethodGet)
	reg.Route(RouteSuggestion+"/{key}/decision", decider(c.decide), http.MethodPost)
	reg.Route(RouteSuggestion+"/{key}/execute", decider(c.execute), http.MethodPost)
	reg.Route(RoutePending, access.Require(access.Viewer, c.pending), http.MethodGet)
	reg.Route(RouteVerify, access.Require(access.Admin, c.verify), http.MethodGet)
	reg.Route(RouteExport, access.Require(access.Admin, c.export), http.MethodGet)
	reg.OnDispose(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.store != nil && o.Close != nil {
			o.Close(c.store)
		}
	})
	return c
}

// Executor is the executor approved actions run on (nil: none), for
// setting what the settings do not carry yet (the load tester's URL) before
// the first request.
func (c *Capability) Executor() *actions.Executor { return c.opts.Executor }

// Service returns the decision service, opening the store on first use.
func (c *Capability) Service(ctx context.Context) (*Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svc != nil {
		return c.svc, nil
	}
	if c.opts.StoreErr != nil {
		return nil, c.opts.StoreErr
	}
	if c.opts.Open == nil {
		return nil, errors.New("no audit store is configured")
	}
	st, err := c.opts.Open(ctx)
	if err != nil {
		return nil, err // tried again on the next request
	}
	c.store, c.svc = st, NewService(st, c.opts.Executor, c.opts.Now)
	return c.svc, nil
}

// serviceAccount matches the logins Grafana gives service accounts
// ("sa-<org id>-<name>").
var serviceAccount = regexp.MustCompile(`^sa-[0-9]+-`)

// IsServiceAccount reports whether u is a Grafana service account.
func IsServiceAccount(u *access.User) bool { return u != nil && serviceAccount.MatchString(u.Login) }

// requireDecider lets through only people with the sign-off role: no user
// is 401, a service account or a lower role 403, each saying why.
func (c *Capability) requireDecider(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := access.UserFrom(r.Context())
		switch {
		case u == nil:
			httpjson.Error(w, http.StatusUnauthorized, "sign-in required", "a decision is made by a signed-in Grafana user")
		case IsServiceAccount(u):
			httpjson.Error(w, http.StatusForbidden, "permission denied",
				fmt.Sprintf("service account %s may not sign off: approving, rejecting, editing and executing suggestions and opening gates is for people", u.Login))
		case !u.Role.AtLeast(c.role):
			role := string(u.Role)
			if role == "" {
				role = "without an org role"
			}
			httpjson.Error(w, http.StatusForbidden, "permission denied",
				fmt.Sprintf("signing off needs the %s role or higher (MeshWatch setting signOff.role); you are %s", c.role, role))
		default:
			h(w, r)
		}
	}
}

// service answers 503 when the store cannot be opened.
func (c *Capability) service(w http.ResponseWriter, r *http.Request) *Service {
	s, err := c.Service(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "the sign-off store is unavailable", err.Error())
		return nil
	}
	return s
}

// fail maps the service's errors to statuses.
func fail(w http.ResponseWriter, err error) {
	var ce *audit.ConflictError
	switch {
	case errors.As(err, &ce):
		httpjson.Write(w, http.StatusConflict, conflictBody{Error: "conflict",
			Detail: fmt.Sprintf("someone decided first: the suggestion is now %s (version %d, by %s); reload it and decide again",
				ce.Current.Status, ce.Current.Version, ce.Current.By.Login), Status: ce.Current.Status, Version: ce.Current.Version})
	case errors.Is(err, audit.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not found", "no such suggestion")
	case errors.Is(err, ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "invalid request", err.Error())
	case errors.Is(err, ErrState):
		httpjson.Error(w, http.StatusConflict, "not allowed now", err.Error())
	case errors.Is(err, ErrNotExecutable):
		httpjson.Error(w, http.StatusUnprocessableEntity, "not executable", err.Error())
	default:
		httpjson.Error(w, http.StatusInternalServerError, "sign-off failed", err.Error())
	}
}

// conflictBody is the 409's error body with the state that won.
type conflictBody struct {
	Error   string `json:"error"`
	Detail  string `json:"detail"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
}

func incidentID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpjson.Error(w, http.StatusBadRequest, "invalid incident id", fmt.Sprintf("%q is not an incident id", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func suggestionKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	if _, _, _, err := ParseKey(key); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid suggestion key", err.Error())
		return "", false
	}
	return key, true
}

const maxBody = 64 << 10

func (c *Capability) reviews(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	s := c.service(w, r)
	if !ok || s == nil {
		return
	}
	rs, err := s.Reviews(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rs)
}

func (c *Capability) trail(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	s := c.service(w, r)
	if !ok || s == nil {
		return
	}
	t, err := s.Trail(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, t)
}

func (c *Capability) decide(w http.ResponseWriter, r *http.Request) {
	key, ok := suggestionKey(w, r)
	if !ok {
		return
	}
	var req DecideRequest
	if !httpjson.Decode(w, r, maxBody, &req) {
		return
	}
	s := c.service(w, r)
	if s == nil {
		return
	}
	rv, err := s.Decide(r.Context(), access.UserFrom(r.Context()), key, req)
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rv)
}

func (c *Capability) execute(w http.ResponseWriter, r *http.Request) {
	key, ok := suggestionKey(w, r)
	if !ok {
		return
	}
	var req ExecuteRequest
	if !httpjson.Decode(w, r, maxBody, &req) {
		return
	}
	s := c.service(w, r)
	if s == nil {
		return
	}
	res, err := s.Execute(r.Context(), access.UserFrom(r.Context()), key, req)
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}

func (c *Capability) pending(w http.ResponseWriter, r *http.Request) {
	s := c.service(w, r)
	if s == nil {
		return
	}
	p, err := s.Pending(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, p)
}

func (c *Capability) verify(w http.ResponseWriter, r *http.Request) {
	s := c.service(w, r)
	if s == nil {
		return
	}
	v, err := s.Verify(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (c *Capability) export(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		httpjson.Error(w, http.StatusBadRequest, "invalid format", fmt.Sprintf("format %q: use json or csv", format))
		return
	}
	s := c.service(w, r)
	if s == nil {
		return
	}
	es, err := s.log.Store.Entries(r.Context(), audit.Query{})
	if err != nil {
		fail(w, err)
		return
	}
	now := c.opts.Now().UTC()
	name := "meshwatch-audit-" + now.Format("20060102T150405Z") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_ = audit.WriteCSV(w, es)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = audit.WriteJSON(w, es, now)
}

func (c *Capability) scenario(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	analysis := r.URL.Query().Get("analysis")
	if !validAnalysis(analysis) {
		httpjson.Error(w, http.StatusBadRequest, "invalid analysis", "?analysis= names the analysis whose rejection to export")
		return
	}
	s := c.service(w, r)
	if s == nil {
		return
	}
	var truth *Truth
	if q := r.URL.Query(); q.Get("cause") != "" {
		truth = &Truth{Namespace: q.Get("namespace"), Workload: q.Get("workload"), Cause: q.Get("cause")}
		if truth.Cause != "none" && (truth.Namespace == "" || truth.Workload == "") {
			httpjson.Error(w, http.StatusBadRequest, "incomplete truth", "with ?cause= other than none, give the workload at fault too: ?namespace= and ?workload=")
			return
		}
	}
	sc, err := s.Scenario(r.Context(), id, analysis, truth, c.opts.Evidence)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="meshwatch-scenario-%d-%s.json"`, id, analysis))
	httpjson.Write(w, http.StatusOK, sc)
}

// Probe is a health probe that the audit chain verifies (for the lead to
// register if wanted).
func (c *Capability) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		s, err := c.Service(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		v, err := s.Verify(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		if !v.OK {
			return health.Outcome{Warn: "the audit chain is broken: " + v.Break.Reason}, nil
		}
		return health.Outcome{Note: fmt.Sprintf("audit chain intact (%d entries)", v.Entries)}, nil
	}
}
