package analyses

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// memStore is the incident store as the capability uses it, in memory.
type memStore struct {
	mu       sync.Mutex
	inc      map[int64]incident.Incident
	ev       map[int64]incident.Evidence
	analyses []incident.Analysis
}

func newMem(incs ...incident.Incident) *memStore {
	m := &memStore{inc: map[int64]incident.Incident{}, ev: map[int64]incident.Evidence{}}
	for _, i := range incs {
		m.inc[i.ID] = i
	}
	return m
}

func (m *memStore) Get(_ context.Context, id int64) (incident.Incident, []incident.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.inc[id]
	if !ok {
		return i, nil, incident.ErrNotFound
	}
	return i, nil, nil
}

func (m *memStore) Evidence(_ context.Context, id int64) (incident.Evidence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.ev[id]
	if !ok {
		return e, incident.ErrNotFound
	}
	return e, nil
}

func (m *memStore) SaveAnalysis(_ context.Context, a incident.Analysis) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.inc[a.IncidentID]; !ok {
		return 0, incident.ErrNotFound
	}
	a.ID = int64(len(m.analyses) + 1)
	m.analyses = append(m.analyses, a)
	return a.ID, nil
}

func (m *memStore) LatestAnalysis(_ context.Context, id int64) (incident.Analysis, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.analyses) - 1; i >= 0; i-- {
		if m.analyses[i].IncidentID == id {
			return m.analyses[i], nil
		}
	}
	return incident.Analysis{}, incident.ErrNotFound
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.analyses)
}

// model is a scripted runner: each write-up waits in line, writes two
// chunks and answers (or fails) when the test releases it.
type model struct {
	mu      sync.Mutex
	calls   []Job
	release chan bool // true: answer, false: fail
}

func newModel() *model { return &model{release: make(chan bool)} }

func (m *model) run(ctx context.Context, job Job, progress func(Progress)) Outcome {
	m.mu.Lock()
	m.calls = append(m.calls, job)
	m.mu.Unlock()
	progress(Progress{Position: 2})
	progress(Progress{Text: `{"summary":"the sidecar`})
	select {
	case <-ctx.Done():
		return Outcome{}
	case ok := <-m.release:
		if !ok {
			return Outcome{Failed: true, Model: "phi3:mini", Result: json.RawMessage(`{"fallback":"Ollama is down"}`)}
		}
		return Outcome{Model: "phi3:mini", Result: json.RawMessage(`{"answer":{"summary":"the sidecar leaks"}}`)}
	}
}

func (m *model) ran() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

var (
	t0   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	open = incident.Incident{ID: 7, State: incident.StateOpen}
)

func findings(ns, wl, cause string) json.RawMessage {
	return json.RawMessage(`[{"namespace":"` + ns + `","workload":"` + wl + `","cause":"` + cause + `","score":0.9}]`)
}

func capture(at time.Time, f json.RawMessage) incident.Evidence {
	return incident.Evidence{CapturedAt: at, Pack: json.RawMessage(`{}`), Findings: f}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, run RunFunc) (*Service, *memStore, *capability.Registry, *clock) {
	t.Helper()
	c := &clock{now: t0}
	st := newMem(open, incident.Incident{ID: 8, State: incident.StateResolved})
	log := &storedLog{}
	stored = log
	s := New(Options{Run: run, Unavailable: "", Now: c.Now, Retry: 5 * time.Minute, Stored: log.add})
	reg := capability.New()
	s.Register(reg, st)
	t.Cleanup(reg.Dispose)
	return s, st, reg, c
}

// stored records what the sign-off stage was handed in the running test
// (each setup makes a new one, so a write-up of an earlier test that ends
// late records nothing here).
var stored *storedLog

type storedLog struct {
	mu  sync.Mutex
	ids []int64
}

func (l *storedLog) add(_ context.Context, a incident.Analysis) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, a.ID)
}

func (l *storedLog) take() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ids
	l.ids = nil
	return out
}

// One write-up per basis: the first capture starts one, whose queue place
// and text show while it runs; a capture that only refreshes the numbers
// asks nothing more; one that blames another cause asks again.
func TestOfferWritesOncePerBasis(t *testing.T) {
	m := newModel()
	s, st, _, c := setup(t, m.run)
	ctx := context.Background()
	leak := findings("shop", "checkout", "sidecar-memory-leak")
	s.Offer(ctx, open, capture(t0, leak))
	waitFor(t, "the text", func() bool { return s.State(ctx, 7).Text != "" })
	if r := s.State(ctx, 7); r.State != StateWriting || !strings.Contains(r.Text, "sidecar") {
		t.Errorf("while writing: %+v", r)
	}
	s.Offer(ctx, open, capture(t0.Add(time.Minute), leak)) // still running: not twice
	m.release <- true
	waitFor(t, "the stored write-up", func() bool { return st.count() == 1 })
	waitFor(t, "the job to end", func() bool { return s.State(ctx, 7).State == StateDone })
	r := s.State(ctx, 7)
	if r.Analysis == nil || r.Analysis.Basis != "shop/checkout sidecar-memory-leak" || r.Analysis.Model != "phi3:mini" ||
		!r.Analysis.EvidenceAt.Equal(t0) {
		t.Fatalf("stored: %+v", r.Analysis)
	}
	// The finished write-up went on to sign-off, with its store id.
	if got := stored.take(); len(got) != 1 || got[0] != r.Analysis.ID {
		t.Errorf("handed to sign-off: %v, want [%d]", got, r.Analysis.ID)
	}
	c.add(10 * time.Minute)
	s.Offer(ctx, open, capture(t0.Add(10*time.Minute), leak))
	time.Sleep(20 * time.Millisecond)
	if m.ran() != 1 {
		t.Fatalf("a refreshed capture of the same fault was analysed again (%d runs)", m.ran())
	}
	s.Offer(ctx, open, capture(t0.Add(11*time.Minute), findings("shop", "payments", "crashloop")))
	waitFor(t, "the second run", func() bool { return m.ran() == 2 })
	m.release <- true
	waitFor(t, "the second write-up", func() bool { return st.count() == 2 })
	// A resolved incident is not analysed.
	s.Offer(ctx, incident.Incident{ID: 8, State: incident.StateResolved}, capture(t0, leak))
	time.Sleep(20 * time.Millisecond)
	if m.ran() != 2 {
		t.Error("a resolved incident was analysed")
	}
}

// A failed write-up (Ollama down) is stored as failed, shown, and tried
// again only after Retry.
func TestFailedWriteUpIsRetriedLater(t *testing.T) {
	m := newModel()
	s, st, _, c := setup(t, m.run)
	ctx := context.Background()
	leak := findings("shop", "checkout", "sidecar-memory-leak")
	s.Offer(ctx, open, capture(t0, leak))
	m.release <- false
	waitFor(t, "the failure", func() bool { return s.State(ctx, 7).State == StateFailed })
	if r := s.State(ctx, 7); r.Analysis == nil || !strings.Contains(string(r.Analysis.Result), "Ollama is down") {
		t.Fatalf("failed: %+v", r)
	}
	if got := stored.take(); len(got) != 0 {
		t.Errorf("a failed write-up went to sign-off: %v", got)
	}
	c.add(time.Minute)
	s.Offer(ctx, open, capture(t0.Add(time.Minute), leak))
	time.Sleep(20 * time.Millisecond)
	if m.ran() != 1 {
		t.Fatal("retried before Retry passed")
	}
	c.add(5 * time.Minute)
	s.Offer(ctx, open, capture(t0.Add(6*time.Minute), leak))
	waitFor(t, "the retry", func() bool { return m.ran() == 2 })
	m.release <- true
	waitFor(t, "the retry's write-up", func() bool { return st.count() == 2 && s.State(ctx, 7).State == StateDone })
}

func call(t *testing.T, reg *capability.Registry, u *access.User, method, path string) (int, Response) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req = req.WithContext(access.WithUser(req.Context(), u))
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, req)
	var r Response
	_ = json.Unmarshal(rec.Body.Bytes(), &r)
	return rec.Code, r
}

var (
	viewer = &access.User{Login: "v", Role: access.Viewer}
	editor = &access.User{Login: "e", Role: access.Editor}
)

// Anyone signed in reads the write-up; only an Editor asks for a fresh one,
// and not twice at once, and not before there is evidence.
func TestRoutes(t *testing.T) {
	m := newModel()
	_, st, reg, _ := setup(t, m.run)
	if code, r := call(t, reg, viewer, http.MethodGet, "/incidents/7/analysis"); code != 200 || r.State != StateNone {
		t.Errorf("GET before any: %d %+v", code, r)
	}
	if code, _ := call(t, reg, viewer, http.MethodGet, "/incidents/99/analysis"); code != 404 {
		t.Errorf("GET unknown incident: %d", code)
	}
	if code, _ := call(t, reg, viewer, http.MethodGet, "/incidents/x/analysis"); code != 400 {
		t.Errorf("GET bad id: %d", code)
	}
	if code, _ := call(t, reg, editor, http.MethodPost, "/incidents/7/analysis"); code != 422 {
		t.Errorf("POST before evidence: %d", code)
	}
	st.mu.Lock()
	st.ev[7] = capture(t0, findings("shop", "checkout", "crashloop"))
	st.mu.Unlock()
	if code, _ := call(t, reg, viewer, http.MethodPost, "/incidents/7/analysis"); code != 403 {
		t.Errorf("POST as Viewer: %d", code)
	}
	if code, _ := call(t, reg, nil, http.MethodGet, "/incidents/7/analysis"); code != 401 && code != 403 {
		t.Errorf("GET without a user: %d", code)
	}
	code, r := call(t, reg, editor, http.MethodPost, "/incidents/7/analysis")
	if code != 202 || (r.State != StateQueued && r.State != StateWriting) {
		t.Errorf("POST as Editor: %d %+v", code, r)
	}
	if code, _ := call(t, reg, editor, http.MethodPost, "/incidents/7/analysis"); code != 409 {
		t.Errorf("POST while running: %d", code)
	}
	m.release <- true
	waitFor(t, "the write-up", func() bool { return st.count() == 1 })
}

// Without an LLM the page learns why, and nothing runs.
func TestWithoutLLM(t *testing.T) {
	st := newMem(open)
	s := New(Options{Unavailable: "no Ollama URL is set (ollama.url on the configuration page)"})
	reg := capability.New()
	s.Register(reg, st)
	defer reg.Dispose()
	s.Offer(context.Background(), open, capture(t0, findings("a", "b", "crashloop")))
	if code, r := call(t, reg, viewer, http.MethodGet, "/incidents/7/analysis"); code != 200 || r.State != StateUnavailable ||
		!strings.Contains(r.Unavailable, "ollama.url") {
		t.Errorf("GET: %d %+v", code, r)
	}
	st.ev[7] = capture(t0, findings("a", "b", "crashloop"))
	if code, _ := call(t, reg, editor, http.MethodPost, "/incidents/7/analysis"); code != 503 {
		t.Errorf("POST without an LLM: %d", code)
	}
}

// The Live channel analysis/<id>: signed-in users only, a frame at once and
// one on every change; disposing the instance cancels the write-up, stores
// nothing and ends the stream so Grafana re-joins the new instance.
func TestStreamFollowsTheWriteUp(t *testing.T) {
	m := newModel()
	s, st, reg, _ := setup(t, m.run)
	if reg.StreamAt("analysis/7") == nil || reg.StreamAt("analysis/07") != nil || reg.StreamAt("analysis/x") != nil {
		t.Fatal("the channel paths are not analysis/<id>")
	}
	str := reg.StreamAt("analysis/7")
	if _, err := str.Subscribe(context.Background(), nil, nil); err != capability.ErrForbidden {
		t.Errorf("anonymous subscribe: %v", err)
	}
	first, err := str.Subscribe(context.Background(), viewer, nil)
	if err != nil || !strings.Contains(string(first), StateNone) {
		t.Fatalf("initial frame %s, %v", first, err)
	}
	states := make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		done <- str.Run(context.Background(), nil, func(f *data.Frame) error {
			var r Response
			_ = json.Unmarshal(f.Fields[0].At(0).(json.RawMessage), &r)
			states <- r.State
			return nil
		})
	}()
	if got := <-states; got != StateNone {
		t.Errorf("first frame %s", got)
	}
	s.Offer(context.Background(), open, capture(t0, findings("shop", "checkout", "crashloop")))
	seen := map[string]bool{}
	for !seen[StateWriting] {
		select {
		case st := <-states:
			seen[st] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("no writing frame; saw %v", seen)
		}
	}
	reg.Dispose()
	select {
	case err := <-done:
		if err != capability.ErrDisposed {
			t.Errorf("stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived the instance")
	}
	if st.count() != 0 {
		t.Error("a cancelled write-up was stored")
	}
}

func TestBasis(t *testing.T) {
	for in, want := range map[string]string{
		`[{"namespace":"a","workload":"b","cause":"crashloop"},{"namespace":"c","workload":"d","cause":"none"}]`: "a/b crashloop",
		`[{"namespace":"a","workload":"b","cause":"none"}]`:                                                      "none",
		`[]`:     "none",
		`{`:      "none",
		`"text"`: "none",
	} {
		if got := Basis(json.RawMessage(in)); got != want {
			t.Errorf("Basis(%s) = %q, want %q", in, got, want)
		}
	}
}

// The stored outcomes are the states the page shows for them.
func TestOutcomesAreStates(t *testing.T) {
	if StateDone != incident.WriteUpDone || StateFailed != incident.WriteUpFailed {
		t.Error("the write-up states and the stored outcomes differ")
	}
}
