package signoff_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/signoff"
)

var (
	viewer  = &access.User{Login: "vera", Name: "Vera", Role: access.Viewer}
	editor  = &access.User{Login: "eddie", Name: "Eddie", Role: access.Editor}
	editor2 = &access.User{Login: "erin", Name: "Erin", Role: access.Editor}
	admin   = &access.User{Login: "ada", Name: "Ada", Role: access.Admin}
	intake  = &access.User{Login: "sa-1-alertmanager", Name: "alertmanager", Role: access.Editor}
)

func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func restart(ns, name string) *actions.Action {
	return &actions.Action{Kind: actions.Restart, Namespace: ns, Name: name}
}

// suggestions is one analysis of incident 7: its root cause, an advice step
// and an executable one.
func suggestions() []signoff.Suggestion {
	return []signoff.Suggestion{
		{Incident: 7, Analysis: "3", Step: 0, Text: "payments leaks memory since 1.4.2"},
		{Incident: 7, Analysis: "3", Step: 1, Text: "Roll back payments to 1.4.1", Command: "kubectl -n shop rollout undo deploy/payments"},
		{Incident: 7, Analysis: "3", Step: 2, Text: "Restart payments to free memory now", Action: restart("shop", "payments")},
	}
}

type fixture struct {
	store *audit.Memory
	svc   *signoff.Service
	h     http.Handler
}

func newFixture(t *testing.T, role access.Role, exec *actions.Executor) fixture {
	t.Helper()
	store := audit.NewMemory()
	reg := capability.New()
	c := signoff.Register(reg, signoff.Options{Open: func(context.Context) (audit.Store, error) { return store, nil }, Role: role, Executor: exec, Now: clock()})
	t.Cleanup(reg.Dispose)
	svc, err := c.Service(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Propose(context.Background(), suggestions()); err != nil {
		t.Fatal(err)
	}
	return fixture{store: store, svc: svc, h: reg.Handler()}
}

func (f fixture) call(t *testing.T, u *access.User, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	if u != nil {
		req = req.WithContext(access.WithUser(req.Context(), u))
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func (f fixture) entries(t *testing.T) []audit.Entry {
	es, _ := f.store.Entries(context.Background(), audit.Query{})
	return es
}

func decide(decision string, version int64, comment string) signoff.DecideRequest {
	return signoff.DecideRequest{Decision: decision, Version: version, Comment: comment}
}

func TestProposeIsIdempotentAndKeepsDecisions(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := context.Background()
	if _, err := f.svc.Decide(ctx, editor, "7:3:root", decide("approve", 1, "")); err != nil {
		t.Fatal(err)
	}
	rs, err := f.svc.Propose(ctx, suggestions())
	if err != nil || len(rs) != 3 || rs[0].Status != signoff.StatusApproved || rs[1].Status != signoff.StatusPending {
		t.Fatalf("proposed again: %v %+v", err, rs)
	}
	if n := len(f.entries(t)); n != 4 {
		t.Errorf("%d entries, want 3 proposals and 1 approval", n)
	}
	for _, bad := range []signoff.Suggestion{{Incident: 0, Analysis: "3", Text: "x"}, {Incident: 1, Analysis: "a:b", Text: "x"},
		{Incident: 1, Analysis: "3", Text: " "}, {Incident: 1, Analysis: "3", Text: "x", Action: restart("a", "b")}} {
		if _, err := f.svc.Propose(ctx, []signoff.Suggestion{bad}); !errors.Is(err, signoff.ErrInvalid) {
			t.Errorf("propose %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if p, _ := f.svc.Pending(ctx); p.Total != 2 || len(p.Incidents) != 1 || p.Incidents[0] != (signoff.PendingIncident{Incident: 7, Count: 2}) {
		t.Errorf("pending: %+v", p)
	}
}

func TestDecisionsOverHTTP(t *testing.T) {
	f := newFixture(t, "", nil)
	// Reject needs a comment; the version must be the current one.
	if code, body := f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/decision", decide("reject", 1, "")); code != 400 {
		t.Errorf("reject without comment: %d %s", code, body)
	}
	if code, body := f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/decision", decide("edit", 1, "safer")); code != 400 {
		t.Errorf("edit without text: %d %s", code, body)
	}
	edit := decide("edit", 1, "roll back through Argo instead")
	edit.Text = "Roll back payments in Argo CD"
	code, body := f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/decision", edit)
	var r signoff.Review
	_ = json.Unmarshal(body, &r)
	if code != 200 || r.Status != signoff.StatusEdited || r.Version != 2 || r.Original == nil || r.Original.Text != "Roll back payments to 1.4.1" || r.Suggestion.Command != "" {
		t.Fatalf("edit: %d %s", code, body)
	}
	if code, body := f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/decision", decide("approve", 1, "")); code != 409 || !strings.Contains(string(body), "eddie") {
		t.Errorf("approve on a stale version: %d %s, want 409 naming who decided", code, body)
	}
	if code, _ := f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/decision", decide("approve", 2, "ok")); code != 200 {
		t.Errorf("approve edited: %d", code)
	}
	if code, _ := f.call(t, editor, "POST", "/signoff/suggestions/7:3:9/decision", decide("approve", 1, "")); code != 404 {
		t.Errorf("unknown suggestion: %d", code)
	}
	if code, _ := f.call(t, editor, "POST", "/signoff/suggestions/nonsense/decision", decide("approve", 1, "")); code != 400 {
		t.Errorf("malformed key: %d", code)
	}
	// The trail holds every decision, in order, with who and why.
	code, body = f.call(t, viewer, "GET", "/signoff/incidents/7/audit", nil)
	var tr signoff.Trail
	_ = json.Unmarshal(body, &tr)
	var got []string
	for _, e := range tr.Entries {
		got = append(got, string(e.Action)+"/"+e.Actor.Login)
	}
	if code != 200 || !tr.ChainOK || strings.Join(got, " ") != "propose/meshwatch propose/meshwatch propose/meshwatch edit/eddie approve/eddie" {
		t.Errorf("trail: %d %v %v", code, tr.ChainOK, got)
	}
	if tr.Entries[3].Comment != "roll back through Argo instead" || !strings.Contains(string(tr.Entries[3].Before), "1.4.1") || !strings.Contains(string(tr.Entries[3].After), "Argo CD") {
		t.Errorf("edit entry: %+v", tr.Entries[3])
	}
}

// Two people decide the same step at once: one wins, the other gets 409,
// and the store holds the winner's decision only.
func TestConcurrentDecisionsConflict(t *testing.T) {
	for round := range 20 {
		f := newFixture(t, "", nil)
		codes := make([]int, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range []*access.User{editor, editor2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				d := decide("approve", 1, "")
				if i == 1 {
					d = decide("reject", 1, "not convinced")
				}
				codes[i], _ = f.call(t, u, "POST", "/signoff/suggestions/7:3:root/decision", d)
			}()
		}
		close(start)
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
			t.Fatalf("round %d: codes %v, want one 200 and one 409", round, codes)
		}
		r, _ := f.svc.Get(context.Background(), "7:3:root")
		winner := map[bool]string{true: "eddie", false: "erin"}[codes[0] == 200]
		if r.Version != 2 || r.By.Login != winner || len(f.entries(t)) != 4 {
			t.Fatalf("round %d: %+v with %d entries, want %s's decision at version 2", round, r, len(f.entries(t)), winner)
		}
	}
}

func TestRolesOnMutatingRoutes(t *testing.T) {
	for _, tc := range []struct {
		role  access.Role
		user  *access.User
		allow bool
		says  string
	}{
		{"", viewer, false, "needs the Editor role"},
		{"", intake, false, "service account sa-1-alertmanager may not sign off"},
		{"", nil, false, "sign-in required"},
		{"", editor, true, ""},
		{"", admin, true, ""},
		{access.Admin, editor, false, "needs the Admin role"},
		{access.Admin, admin, true, ""},
	} {
		f := newFixture(t, tc.role, nil)
		for _, rt := range []struct {
			path string
			body any
		}{
			{"/signoff/suggestions/7:3:root/decision", decide("approve", 1, "")},
			{"/signoff/suggestions/7:3:2/execute", signoff.ExecuteRequest{Version: 1}},
		} {
			code, body := f.call(t, tc.user, "POST", rt.path, rt.body)
			denied := code == 401 || code == 403
			if denied == tc.allow || (!tc.allow && !strings.Contains(string(body), tc.says)) {
				t.Errorf("role setting %q, user %v: POST %s = %d %s", tc.role, tc.user, rt.path, code, body)
			}
		}
		if !tc.allow && len(f.entries(t)) != 3 {
			t.Errorf("a denied caller changed the trail: %d entries", len(f.entries(t)))
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	f := newFixture(t, "", nil)
	for _, path := range []string{"/signoff/audit/verify", "/signoff/audit/export?format=csv", "/signoff/incidents/7/scenario?analysis=3"} {
		if code, _ := f.call(t, editor, "GET", path, nil); code != 403 {
			t.Errorf("editor GET %s = %d, want 403", path, code)
		}
	}
	code, body := f.call(t, admin, "GET", "/signoff/audit/verify", nil)
	var v audit.Verdict
	_ = json.Unmarshal(body, &v)
	if code != 200 || !v.OK || v.Entries != 3 {
		t.Errorf("verify: %d %s", code, body)
	}
	code, body = f.call(t, admin, "GET", "/signoff/audit/export?format=csv", nil)
	if code != 200 || strings.Count(string(body), "\n") != 4 || !strings.HasPrefix(string(body), "seq,at,login") {
		t.Errorf("csv export: %d %s", code, body)
	}
	if code, _ := f.call(t, admin, "GET", "/signoff/audit/export?format=xml", nil); code != 400 {
		t.Errorf("xml export: %d", code)
	}
}

func TestRejectedAnalysisExportsAsScenario(t *testing.T) {
	f := newFixture(t, "", nil)
	ev := func(context.Context, int64) (json.RawMessage, json.RawMessage, error) {
		return json.RawMessage(`{"incident":{"namespace":"shop"}}`), json.RawMessage(`[{"cause":"memory-leak"}]`), nil
	}
	if _, err := f.svc.Scenario(context.Background(), 7, "3", nil, ev); !errors.Is(err, signoff.ErrState) {
		t.Errorf("export of a pending analysis: %v", err)
	}
	if _, err := f.svc.Decide(context.Background(), admin, "7:3:root", decide("reject", 1, "it is the connection pool, not a leak")); err != nil {
		t.Fatal(err)
	}
	sc, err := f.svc.Scenario(context.Background(), 7, "3", nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Format != signoff.ScenarioFormat || sc.Verdict.By.Login != "ada" || sc.Verdict.Comment != "it is the connection pool, not a leak" ||
		sc.Rejected.Text != "payments leaks memory since 1.4.2" || len(sc.Steps) != 2 || string(sc.Findings) != `[{"cause":"memory-leak"}]` {
		t.Errorf("scenario: %+v", sc)
	}
	if len(sc.Cases) != 0 {
		t.Errorf("without the truth the export is no captured scenario: %+v", sc.Cases)
	}
	// With the truth it is pkg/analysis's captured-scenario format.
	sc, err = f.svc.Scenario(context.Background(), 7, "3", &signoff.Truth{Namespace: "shop", Workload: "payments-db", Cause: "connection-pool"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sc)
	var captured struct {
		Scenario string `json:"scenario"`
		Cases    []struct {
			Truth *struct{ Namespace, Workload, Cause string } `json:"truth"`
			Pack  map[string]any                               `json:"pack"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &captured); err != nil || captured.Scenario == "" || len(captured.Cases) != 1 ||
		captured.Cases[0].Truth == nil || captured.Cases[0].Truth.Workload != "payments-db" || captured.Cases[0].Pack["incident"] == nil {
		t.Errorf("as a captured scenario: %v %+v", err, captured)
	}
}

// An unapproved step, and an approved one without an allowlisted action,
// are refused before anything runs, and each refusal is in the trail.
func TestExecuteRefusalsAreAudited(t *testing.T) {
	var calls int
	lt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(202) }))
	defer lt.Close()
	f := newFixture(t, "", &actions.Executor{LoadTester: lt.URL, Bounds: actions.DefaultBounds, KubeErr: errors.New("no cluster in this test")})
	code, body := f.call(t, editor, "POST", "/signoff/suggestions/7:3:2/execute", signoff.ExecuteRequest{Version: 1})
	if code != 409 || !strings.Contains(string(body), "not approved") {
		t.Errorf("execute unapproved: %d %s", code, body)
	}
	if _, err := f.svc.Decide(context.Background(), editor, "7:3:1", decide("approve", 1, "")); err != nil {
		t.Fatal(err)
	}
	code, body = f.call(t, editor, "POST", "/signoff/suggestions/7:3:1/execute", signoff.ExecuteRequest{Version: 2})
	if code != 422 || !strings.Contains(string(body), "advice") {
		t.Errorf("execute advice: %d %s", code, body)
	}
	es := f.entries(t)
	if n := len(es); n != 6 || es[3].Action != audit.Refuse || es[5].Action != audit.Refuse || es[5].Actor.Login != "eddie" {
		t.Fatalf("entries: %+v", es)
	}
	if calls != 0 {
		t.Errorf("a refused step reached the load tester %d times", calls)
	}
}
