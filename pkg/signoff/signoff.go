// Package signoff is the human sign-off of AI suggestions: every root cause
// and remediation step an analysis proposes starts as pending review, and a
// person with the sign-off role (settings signOff.role, Editor by default)
// approves, rejects or edits it with a comment. An approved step whose
// action is on the allowlist (pkg/actions) can then be executed. Every
// decision, every execution and its result, every refusal and every gate
// opened or closed is recorded through audit.Log.Record, the one function
// that writes the hash-chained audit trail (pkg/audit).
//
// The role is enforced here, in the backend, from the caller Grafana names
// in the plugin context: Viewers and service accounts (the intake's) get
// 403 whatever the UI shows.
package signoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
)

// Key is a suggestion's key: "<incident>:<analysis>:<step>", the step
// "root" for the root cause.
func (s Suggestion) Key() string {
	step := "root"
	if s.Step > 0 {
		step = strconv.Itoa(s.Step)
	}
	return fmt.Sprintf("%d:%s:%s", s.Incident, s.Analysis, step)
}

// ParseKey splits a key into incident, analysis and step.
func ParseKey(key string) (incident int64, analysis string, step int, err error) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 {
		return 0, "", 0, fmt.Errorf("%q is not a suggestion key (<incident>:<analysis>:<step|root>)", key)
	}
	incident, err = strconv.ParseInt(parts[0], 10, 64)
	if err != nil || incident <= 0 {
		return 0, "", 0, fmt.Errorf("%q: the incident is not an id", key)
	}
	if parts[2] != "root" {
		if step, err = strconv.Atoi(parts[2]); err != nil || step <= 0 {
			return 0, "", 0, fmt.Errorf("%q: the step is neither root nor a step number", key)
		}
	}
	if !validAnalysis(parts[1]) {
		return 0, "", 0, fmt.Errorf("%q: the analysis id is empty or holds more than letters, digits, '-', '_' and '.'", key)
	}
	return incident, parts[1], step, nil
}

func validAnalysis(a string) bool {
	if a == "" || len(a) > 64 {
		return false
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Errors the routes map to statuses.
var (
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid request")
	// ErrState: the decision does not apply to the suggestion's status
	// (409).
	ErrState = errors.New("not allowed in this state")
	// ErrNotExecutable: no allowlisted action, or the allowlist refused it
	// (422).
	ErrNotExecutable = errors.New("not executable")
)

// stored is a subject's body in the audit store.
type stored struct {
	Suggestion Suggestion      `json:"suggestion"`
	Original   *Suggestion     `json:"original,omitempty"`
	Result     *actions.Result `json:"result,omitempty"`
}

// Service decides on suggestions.
type Service struct {
	log  *audit.Log
	exec *actions.Executor
	now  func() time.Time
}

// NewService builds the decision service over a store; exec runs approved
// actions (nil: nothing is executable). now is the clock (nil: time.Now).
func NewService(store audit.Store, exec *actions.Executor, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{log: &audit.Log{Store: store, Now: now}, exec: exec, now: now}
}

// Log is the service's audit log (the one function that records).
func (s *Service) Log() *audit.Log { return s.log }

func actorOf(u *access.User) audit.Actor {
	return audit.Actor{Login: u.Login, Name: u.Name, Role: string(u.Role)}
}

func (s *Service) review(st audit.State) (Review, error) {
	var b stored
	if err := json.Unmarshal(st.Body, &b); err != nil {
		return Review{}, fmt.Errorf("suggestion %s: stored body: %w", st.Subject, err)
	}
	r := Review{Key: st.Subject, Suggestion: b.Suggestion, Original: b.Original, Status: st.Status,
		Version: st.Version, UpdatedAt: st.UpdatedAt, By: st.By, Result: b.Result}
	r.Executable = st.Status == StatusApproved && b.Suggestion.Action != nil && s.exec != nil &&
		actions.Check(*b.Suggestion.Action, s.exec.Bounds, s.exec.Namespaces) == nil
	return r, nil
}

// snapshot is a review's state as an entry's before/after.
func snapshot(st audit.State, b stored) json.RawMessage {
	out, _ := json.Marshal(map[string]any{"status": st.Status, "version": st.Version, "text": b.Suggestion.Text,
		"command": b.Suggestion.Command, "action": b.Suggestion.Action})
	return out
}

// Propose puts suggestions up for review, each pending. A suggestion
// already proposed (same key) keeps its decision: proposing an analysis's
// suggestions again changes nothing. Invalid ones are refused whole.
func (s *Service) Propose(ctx context.Context, list []Suggestion) ([]Review, error) {
	for _, sg := range list {
		if err := checkSuggestion(sg); err != nil {
			return nil, err
		}
	}
	out := make([]Review, 0, len(list))
	for _, sg := range list {
		body, _ := json.Marshal(stored{Suggestion: sg})
		st := audit.State{Status: StatusPending, Version: 1}
		_, err := s.log.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: sg.Key(),
			Incident: sg.Incident, After: snapshot(st, stored{Suggestion: sg})}, &audit.Change{From: 0, Status: StatusPending, Body: body})
		if err != nil && !errors.Is(err, audit.ErrConflict) {
			return nil, err
		}
		cur, err := s.log.Store.Subject(ctx, sg.Key())
		if err != nil {
			return nil, err
		}
		r, err := s.review(cur)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func checkSuggestion(sg Suggestion) error {
	switch {
	case sg.Incident <= 0:
		return fmt.Errorf("%w: a suggestion needs its incident", ErrInvalid)
	case !validAnalysis(sg.Analysis):
		return fmt.Errorf("%w: analysis id %q: use letters, digits, '-', '_' or '.'", ErrInvalid, sg.Analysis)
	case sg.Step < 0:
		return fmt.Errorf("%w: step %d", ErrInvalid, sg.Step)
	case strings.TrimSpace(sg.Text) == "":
		return fmt.Errorf("%w: suggestion %s has no text", ErrInvalid, sg.Key())
	case sg.Step == 0 && sg.Action != nil:
		return fmt.Errorf("%w: the root cause (step 0) cannot carry an action", ErrInvalid)
	}
	return nil
}

// Reviews returns an incident's suggestions, root causes first.
func (s *Service) Reviews(ctx context.Context, incident int64) ([]Review, error) {
	sts, err := s.log.Store.Subjects(ctx, audit.SubjectQuery{Incident: incident})
	if err != nil {
		return nil, err
	}
	out := make([]Review, 0, len(sts))
	for _, st := range sts {
		if strings.HasPrefix(st.Subject, gatePrefix) {
			continue
		}
		r, err := s.review(st)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortReviews(out)
	return out, nil
}

func sortReviews(rs []Review) {
	less := func(a, b Review) bool {
		if a.Suggestion.Analysis != b.Suggestion.Analysis {
			return a.Suggestion.Analysis > b.Suggestion.Analysis // newest analysis first (ids count up)
		}
		return a.Suggestion.Step < b.Suggestion.Step
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && less(rs[j], rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// Get returns one suggestion's review (audit.ErrNotFound).
func (s *Service) Get(ctx context.Context, key string) (Review, error) {
	st, err := s.log.Store.Subject(ctx, key)
	if err != nil {
		return Review{}, err
	}
	return s.review(st)
}

// allowedFrom says which statuses each decision applies to.
var allowedFrom = map[string][]string{
	DecisionApprove: {StatusPending, StatusEdited, StatusExecuting},
	DecisionReject:  {StatusPending, StatusEdited, StatusApproved},
	DecisionEdit:    {StatusPending, StatusEdited, StatusApproved},
}

var decisionAction = map[string]audit.Action{DecisionApprove: audit.Approve, DecisionReject: audit.Reject, DecisionEdit: audit.Edit}
var decisionStatus = map[string]string{DecisionApprove: StatusApproved, DecisionReject: StatusRejected, DecisionEdit: StatusEdited}

// Decide records u's decision on the suggestion key, made on version
// req.Version: approve, reject (comment required) or edit (comment and new
// text required; an edited step needs an approval again). A stale version
// is an *audit.ConflictError; a decision the status does not allow (an
// executed or rejected suggestion) ErrState.
func (s *Service) Decide(ctx context.Context, u *access.User, key string, req DecideRequest) (Review, error) {
	act, ok := decisionAction[req.Decision]
	if !ok {
		return Review{}, fmt.Errorf("%w: decision %q is not approve, reject or edit", ErrInvalid, req.Decision)
	}
	if req.Version <= 0 {
		return Review{}, fmt.Errorf("%w: the decision needs the version of the suggestion it was made on", ErrInvalid)
	}
	comment := strings.TrimSpace(req.Comment)
	if comment == "" && req.Decision != DecisionApprove {
		return Review{}, fmt.Errorf("%w: a %s needs a comment saying why", ErrInvalid, req.Decision)
	}
	if len(comment) > 4000 || len(req.Text) > 4000 || len(req.Command) > 4000 {
		return Review{}, fmt.Errorf("%w: comment, text and command are limited to 4000 bytes", ErrInvalid)
	}
	st, err := s.log.Store.Subject(ctx, key)
	if err != nil {
		return Review{}, err
	}
	if st.Version != req.Version {
		return Review{}, &audit.ConflictError{Current: st}
	}
	var b stored
	if err := json.Unmarshal(st.Body, &b); err != nil {
		return Review{}, err
	}
	if !contains(allowedFrom[req.Decision], st.Status) {
		return Review{}, fmt.Errorf("%w: the suggestion is %s; it cannot be %s now", ErrState, st.Status, decisionStatus[req.Decision])
	}
	next := b
	if req.Decision == DecisionEdit {
		if strings.TrimSpace(req.Text) == "" {
			return Review{}, fmt.Errorf("%w: an edit needs the new text", ErrInvalid)
		}
		if next.Original == nil {
			orig := b.Suggestion
			next.Original = &orig
		}
		next.Suggestion.Text, next.Suggestion.Command = strings.TrimSpace(req.Text), strings.TrimSpace(req.Command)
	}
	status := decisionStatus[req.Decision]
	body, _ := json.Marshal(next)
	after := audit.State{Status: status, Version: st.Version + 1}
	if _, err := s.log.Record(ctx, audit.Entry{Actor: actorOf(u), Action: act, Subject: key, Incident: st.Incident,
		Before: snapshot(st, b), After: snapshot(after, next), Comment: comment},
		&audit.Change{From: st.Version, Status: status, Body: body}); err != nil {
		return Review{}, err
	}
	return s.Get(ctx, key)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ExecTimeout bounds one action's run; it is not tied to the request, so a
// closed browser tab does not leave a result unrecorded.
const ExecTimeout = 30 * time.Second

// Execute runs the approved step key's action for u, made on version
// req.Version. A step that is not approved, has no action, or whose action
// the allowlist refuses, is refused before any call, and the refusal is
// recorded. Otherwise the start (status executing) and the result (the
// server's answer; status executed, or approved again after a failure so
// it can be retried) are recorded around the run.
func (s *Service) Execute(ctx context.Context, u *access.User, key string, req ExecuteRequest) (ExecuteResponse, error) {
	st, err := s.log.Store.Subject(ctx, key)
	if err != nil {
		return ExecuteResponse{}, err
	}
	var b stored
	if err := json.Unmarshal(st.Body, &b); err != nil {
		return ExecuteResponse{}, err
	}
	if req.Version != st.Version {
		return ExecuteResponse{}, &audit.ConflictError{Current: st}
	}
	comment := strings.TrimSpace(req.Comment)
	refuse := func(kind error, why string) (ExecuteResponse, error) {
		res := actions.Result{Summary: "refused: " + why}
		after, _ := json.Marshal(res)
		if _, err := s.log.Record(ctx, audit.Entry{Actor: actorOf(u), Action: audit.Refuse, Subject: key, Incident: st.Incident,
			Before: snapshot(st, b), After: after, Comment: comment}, nil); err != nil {
			return ExecuteResponse{}, err
		}
		return ExecuteResponse{}, fmt.Errorf("%w: %s", kind, why)
	}
	a := b.Suggestion.Action
	switch {
	case st.Status != StatusApproved:
		return refuse(ErrState, fmt.Sprintf("the step is %s, not approved: nothing runs before a person approves it", st.Status))
	case a == nil:
		return refuse(ErrNotExecutable, "this step is advice: it has no allowlisted action to run")
	case s.exec == nil:
		return refuse(ErrNotExecutable, "execution is not configured")
	}
	if err := actions.Check(*a, s.exec.Bounds, s.exec.Namespaces); err != nil {
		return refuse(ErrNotExecutable, err.Error())
	}
	running := audit.State{Status: StatusExecuting, Version: st.Version + 1}
	if _, err := s.log.Record(ctx, audit.Entry{Actor: actorOf(u), Action: audit.Execute, Subject: key, Incident: st.Incident,
		Before: snapshot(st, b), After: snapshot(running, b), Comment: comment},
		&audit.Change{From: st.Version, Status: StatusExecuting, Body: st.Body}); err != nil {
		return ExecuteResponse{}, err
	}
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ExecTimeout)
	defer cancel()
	res, runErr := s.exec.Run(runCtx, *a)
	res.OK = runErr == nil && res.OK
	status := StatusExecuted
	if !res.OK {
		status = StatusApproved
	}
	b.Result = &res
	body, _ := json.Marshal(b)
	after, _ := json.Marshal(map[string]any{"status": status, "version": running.Version + 1, "result": res})
	if _, err := s.log.Record(context.WithoutCancel(ctx), audit.Entry{Actor: actorOf(u), Action: audit.ExecuteResult, Subject: key,
		Incident: st.Incident, Before: snapshot(running, b), After: after, Comment: res.Summary},
		&audit.Change{From: running.Version, Status: status, Body: body}); err != nil {
		return ExecuteResponse{}, err
	}
	r, err := s.Get(ctx, key)
	return ExecuteResponse{Review: r, Result: res}, err
}

// gatePrefix starts a canary gate's subject ("gate:<gate>/<namespace>/<name>"):
// the canary capability records its gate decisions in the same trail
// (pkg/canaries AuditGates), and they are no suggestions.
const gatePrefix = "gate:"

// Pending counts the suggestions awaiting sign-off per incident.
func (s *Service) Pending(ctx context.Context) (Pending, error) {
	sts, err := s.log.Store.Subjects(ctx, audit.SubjectQuery{Statuses: []string{StatusPending, StatusEdited}})
	if err != nil {
		return Pending{}, err
	}
	p := Pending{Incidents: []PendingIncident{}}
	for _, st := range sts {
		if st.Incident == 0 {
			continue
		}
		if n := len(p.Incidents); n > 0 && p.Incidents[n-1].Incident == st.Incident {
			p.Incidents[n-1].Count++
		} else {
			p.Incidents = append(p.Incidents, PendingIncident{Incident: st.Incident, Count: 1})
		}
		p.Total++
	}
	return p, nil
}

// Trail returns an incident's audit entries and whether the whole chain
// verifies.
func (s *Service) Trail(ctx context.Context, incident int64) (Trail, error) {
	es, err := s.log.Store.Entries(ctx, audit.Query{Incident: incident})
	if err != nil {
		return Trail{}, err
	}
	v, err := s.Verify(ctx)
	if err != nil {
		return Trail{}, err
	}
	if es == nil {
		es = []audit.Entry{}
	}
	return Trail{Entries: es, ChainOK: v.OK}, nil
}

// Verify walks the whole chain.
func (s *Service) Verify(ctx context.Context) (audit.Verdict, error) {
	es, err := s.log.Store.Entries(ctx, audit.Query{})
	if err != nil {
		return audit.Verdict{}, err
	}
	return audit.Verify(es), nil
}

// Scenario exports incident's analysis whose root cause a person rejected
// as an evaluation case, with the evidence capture evidence returns.
// truth, when set, is what the fault really was: the export is then also
// a captured scenario of pkg/analysis (Name, Cases).
func (s *Service) Scenario(ctx context.Context, incident int64, analysis string, truth *Truth,
	evidence func(ctx context.Context, incident int64) (pack, findings json.RawMessage, err error)) (Scenario, error) {
	root := Suggestion{Incident: incident, Analysis: analysis}.Key()
	r, err := s.Get(ctx, root)
	if err != nil {
		return Scenario{}, err
	}
	if r.Status != StatusRejected {
		return Scenario{}, fmt.Errorf("%w: the root cause of analysis %s is %s; only a rejected analysis is exported as a scenario", ErrState, analysis, r.Status)
	}
	es, err := s.log.Store.Entries(ctx, audit.Query{Subject: root})
	if err != nil {
		return Scenario{}, err
	}
	var v Verdict
	for _, e := range es {
		if e.Action == audit.Reject {
			v = Verdict{Decision: DecisionReject, By: e.Actor, At: e.At, Comment: e.Comment}
		}
	}
	all, err := s.Reviews(ctx, incident)
	if err != nil {
		return Scenario{}, err
	}
	sc := Scenario{Format: ScenarioFormat, ExportedAt: s.now().UTC(), Incident: incident, Analysis: analysis,
		Rejected: r.Suggestion, Steps: []Review{}, Verdict: v}
	if r.Original != nil {
		sc.Rejected = *r.Original
	}
	for _, x := range all {
		if x.Suggestion.Analysis == analysis && x.Suggestion.Step > 0 {
			sc.Steps = append(sc.Steps, x)
		}
	}
	if evidence != nil {
		if sc.Pack, sc.Findings, err = evidence(ctx, incident); err != nil {
			return Scenario{}, fmt.Errorf("the incident's evidence: %w", err)
		}
	}
	sc.Cases = []ScenarioCase{}
	if truth != nil && len(sc.Pack) > 0 {
		sc.Name = fmt.Sprintf("rejected-incident-%d-analysis-%s", incident, analysis)
		c := ScenarioCase{Pack: sc.Pack, Findings: sc.Findings}
		if truth.Cause != "none" {
			c.Truth = truth
		}
		sc.Cases = append(sc.Cases, c)
	}
	return sc, nil
}
