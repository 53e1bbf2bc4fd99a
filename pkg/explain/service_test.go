package explain

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

func llm(url string) settings.LLM {
	s := settings.Defaults().Ollama
	s.URL, s.TimeoutSeconds = url, 30
	return s
}

// serve registers a service on the LLM at url ("" : none, with the reason
// "no LLM configured").
func serve(t *testing.T, url string, o Options) (*Service, *capability.Registry) {
	t.Helper()
	if url != "" {
		o.LLM = llm(url)
		c, err := ollama.New(o.LLM)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		o.Ollama = c
	} else if o.Unavailable == "" {
		o.Unavailable = "no LLM configured"
	}
	s := New(o)
	reg := capability.New()
	s.Register(reg)
	t.Cleanup(reg.Dispose)
	return s, reg
}

func accepted(t *testing.T, reg *capability.Registry, r Request) Accepted {
	t.Helper()
	code, body := post(t, reg, viewer, "/explain", mustJSON(t, r))
	var a Accepted
	if code != http.StatusAccepted || json.Unmarshal(body, &a) != nil {
		t.Fatalf("POST explain: %d %s", code, body)
	}
	return a
}

func waitStatus(t *testing.T, s *Service, id string, want ...Status) State {
	t.Helper()
	var st State
	waitFor(t, "status "+string(want[0]), func() bool {
		st = s.State(id)
		for _, w := range want {
			if st.Status == w {
				return true
			}
		}
		return false
	})
	return st
}

// The routes answer signed-in users of any role and refuse what they
// cannot use with a clear 4xx: no user, an empty, malformed, oversized or
// unknown-field body, no queries, a datasource type Explain does not read.
func TestExplainRouteRefusesWhatItCannotUse(t *testing.T) {
	_, reg := serve(t, "", Options{})
	good := mustJSON(t, request(2))
	if code, body := post(t, reg, nil, "/explain", good); code != http.StatusUnauthorized {
		t.Errorf("no user: %d %s", code, body)
	}
	for _, who := range []string{"viewer", "editor", "admin"} {
		u := map[string]any{"viewer": viewer, "editor": editor, "admin": admin}[who]
		if code, body := post(t, reg, u.(*access.User), "/explain", good); code != http.StatusAccepted {
			t.Errorf("%s: %d %s", who, code, body)
		}
	}
	noQueries := request(1)
	noQueries.Queries = nil
	graphite := request(1)
	graphite.Queries[0].Datasource.Type = "graphite"
	backwards := request(1)
	backwards.TimeRange.From, backwards.TimeRange.To = backwards.TimeRange.To, backwards.TimeRange.From
	dup := request(2)
	dup.Series[1].ID = "s1"
	big := request(1)
	big.Panel.Description = strings.Repeat("x", MaxBody)
	for _, c := range []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"empty", nil, 400, "the body is empty"},
		{"malformed", []byte(`{"panel":`), 400, "malformed JSON"},
		{"unknown field", []byte(`{"panel":{"title":"x"},"rawPoints":[1,2]}`), 400, "rawPoints"},
		{"no queries", mustJSON(t, noQueries), 400, "no queries"},
		{"graphite", mustJSON(t, graphite), 400, `"graphite" is not supported`},
		{"time range", mustJSON(t, backwards), 400, "from before to"},
		{"duplicate id", mustJSON(t, dup), 400, "used twice"},
		{"oversized", mustJSON(t, big), 413, "limit is 65536 bytes"},
	} {
		code, body := post(t, reg, viewer, "/explain", c.body)
		var e httpjson.ErrorBody
		_ = json.Unmarshal(body, &e)
		if code != c.code || !strings.Contains(e.Error+" "+e.Detail, c.want) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, code, body, c.code, c.want)
		}
	}
	for _, path := range []string{"/explain", "/explain/data"} {
		req, body := post(t, reg, nil, path, good)
		if req != http.StatusUnauthorized {
			t.Errorf("%s without a user: %d %s", path, req, body)
		}
	}
}

// Without an LLM the request is still accepted: the answer and the stream
// say why there is no write-up (the modal shows its deterministic summary).
func TestWithoutAnLLMTheStreamSaysWhy(t *testing.T) {
	s, reg := serve(t, "", Options{Unavailable: "no LLM explains panels: ollama.url is not set"})
	a := accepted(t, reg, request(2))
	if a.Unavailable == "" || a.Channel != "explain/"+a.ID || len(a.ID) != IDLength {
		t.Fatalf("accepted %+v", a)
	}
	st := s.State(a.ID)
	if st.Status != StatusUnavailable || !strings.Contains(st.Reason, "ollama.url") {
		t.Errorf("state %+v", st)
	}
	if again := accepted(t, reg, request(2)); again.ID != a.ID {
		t.Errorf("the same request got another id: %s, %s", a.ID, again.ID)
	}
	other := request(2)
	other.Panel.Title = "Errors"
	if b := accepted(t, reg, other); b.ID == a.ID {
		t.Error("another request got the same id")
	}
}

// An Ollama that cannot be reached makes the explanation unavailable, with
// Ollama's reason.
func TestOllamaDownIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	s, reg := serve(t, url, Options{})
	a := accepted(t, reg, request(1))
	if a.Unavailable != "" {
		t.Errorf("configured LLM, unavailable %q", a.Unavailable)
	}
	st := waitStatus(t, s, a.ID, StatusUnavailable, StatusFailed)
	if st.Status != StatusUnavailable || !strings.Contains(st.Reason, "unreachable") {
		t.Errorf("state %+v", st)
	}
}

// frames collects what a stream sends.
type frames struct {
	mu     sync.Mutex
	states []State
}

func (f *frames) send(fr *data.Frame) error {
	if fr.Name != FrameName || len(fr.Fields) != 1 || fr.Fields[0].Name != FieldResponse {
		return errors.New("not the explain frame")
	}
	var st State
	if err := json.Unmarshal([]byte(fr.Fields[0].At(0).(string)), &st); err != nil {
		return err
	}
	f.mu.Lock()
	f.states = append(f.states, st)
	f.mu.Unlock()
	return nil
}

func (f *frames) all() []State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]State(nil), f.states...)
}

// The explanation over Ollama's wire format (the contract fake answering
// from the prompt): it streams on explain/<id> — the text growing, then the
// guarded answer: the notable point cites the first series, the cause that
// cites nothing is marked, the next query parses. The request carries the
// schema limited to the prompt's series ids.
func TestExplainStreamsTheGuardedAnswer(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", contractfake.PanelEcho(DataOpen, DataClose, 40*time.Millisecond, nil),
		contractfake.OllamaModel{Name: "phi3:mini"})
	s, reg := serve(t, fake.URL, Options{})
	a := accepted(t, reg, request(3))
	st := reg.StreamAt(a.Channel)
	if st == nil {
		t.Fatalf("no stream at %s", a.Channel)
	}
	if _, err := st.Subscribe(context.Background(), nil, nil); !errors.Is(err, capability.ErrForbidden) {
		t.Errorf("subscribe without a user: %v", err)
	}
	if _, err := st.Subscribe(context.Background(), viewer, nil); err != nil {
		t.Errorf("subscribe as Viewer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got frames
	go func() { _ = st.Run(ctx, nil, got.send) }()
	done := waitStatus(t, s, a.ID, StatusDone, StatusFailed, StatusUnavailable)
	if done.Status != StatusDone || done.Answer == nil {
		t.Fatalf("state %+v", done)
	}
	ans := done.Answer
	if len(ans.Notable) != 1 || ans.Notable[0].Uncited || ans.Notable[0].Series[0] != "s1" {
		t.Errorf("notable %+v", ans.Notable)
	}
	if len(ans.Causes) != 1 || !ans.Causes[0].Uncited {
		t.Errorf("causes %+v", ans.Causes)
	}
	if len(ans.NextQueries) != 1 || !ans.NextQueries[0].Valid {
		t.Errorf("next queries %+v", ans.NextQueries)
	}
	waitFor(t, "the done frame", func() bool {
		all := got.all()
		return len(all) > 0 && all[len(all)-1].Status == StatusDone
	})
	var texts int
	for _, f := range got.all() {
		if f.Status == StatusStreaming && f.Text != "" {
			texts++
		}
	}
	if texts == 0 {
		t.Error("no frame carried the text while streaming")
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d chat requests", len(reqs))
	}
	if f := string(reqs[0].Format); !strings.Contains(f, `"enum":["s1","s2","s3"]`) {
		t.Errorf("format %s", f)
	}
	if again := accepted(t, reg, request(3)); again.ID != a.ID || len(fake.Requests()) != 1 {
		t.Errorf("the same request asked the model again (%d requests)", len(fake.Requests()))
	}
}

// An answer that is not the schema's JSON is asked again once, saying
// why; twice broken is failed with the reason.
func TestBrokenAnswersAreRetriedOnceThenFail(t *testing.T) {
	good := contractfake.PanelEcho(DataOpen, DataClose, 0, nil)
	fake := contractfake.NewOllamaFake(t, "0.17.4", func(req api.ChatRequest, n int) contractfake.OllamaReply {
		if n == 1 {
			return contractfake.OllamaReply{Content: `{"shows": "cut off`}
		}
		return good(req, n)
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	s, reg := serve(t, fake.URL, Options{})
	a := accepted(t, reg, request(1))
	if st := waitStatus(t, s, a.ID, StatusDone, StatusFailed); st.Status != StatusDone {
		t.Fatalf("a good second answer: %+v", st)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || !strings.Contains(reqs[1].Messages[1].Content, "not usable (not valid JSON") {
		t.Errorf("%d requests; the retry does not say why", len(reqs))
	}

	fake.SetScript(func(api.ChatRequest, int) contractfake.OllamaReply {
		return contractfake.OllamaReply{Content: `I think the panel shows traffic.`}
	})
	other := request(1)
	other.Panel.Title = "Another"
	b := accepted(t, reg, other)
	st := waitStatus(t, s, b.ID, StatusDone, StatusFailed)
	if st.Status != StatusFailed || !strings.Contains(st.Reason, "twice") || len(fake.Requests()) != 4 {
		t.Errorf("state %+v after %d requests", st, len(fake.Requests()))
	}
	// Asking again starts a new job (a failed one is not reused).
	fake.SetScript(good)
	if c := accepted(t, reg, other); c.ID != b.ID {
		t.Fatal("another id")
	}
	if st := waitStatus(t, s, b.ID, StatusDone); st.Answer == nil {
		t.Errorf("state %+v", st)
	}
}

// Explanations wait in the same model queue as the write-ups: while
// another job holds the model, the stream says queued and how many are
// ahead.
func TestExplanationsShareTheModelQueue(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", contractfake.PanelEcho(DataOpen, DataClose, 0, nil),
		contractfake.OllamaModel{Name: "phi3:mini"})
	q := analysis.NewQueue(nil)
	s, reg := serve(t, fake.URL, Options{Queue: q})
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = q.Do(context.Background(), "phi3:mini", "incident-1", nil, func(context.Context) error {
			close(hold)
			<-release
			return nil
		})
	}()
	<-hold
	a := accepted(t, reg, request(1))
	st := waitStatus(t, s, a.ID, StatusQueued)
	waitFor(t, "position 1", func() bool { st = s.State(a.ID); return st.Position == 1 })
	if len(fake.Requests()) != 0 {
		t.Error("the model was asked while another job held it")
	}
	close(release)
	if st := waitStatus(t, s, a.ID, StatusDone, StatusFailed); st.Status != StatusDone || st.Position != 0 {
		t.Errorf("state %+v", st)
	}
}

// Jobs are kept TTL after they were asked for, and at most MaxJobs: the
// oldest finished one goes first; a job no longer kept says so.
func TestJobsAreBoundedAndExpire(t *testing.T) {
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, reg := serve(t, "", Options{MaxJobs: 2, Now: clock})
	var ids []string
	for _, title := range []string{"a", "b", "c"} {
		r := request(1)
		r.Panel.Title = title
		ids = append(ids, accepted(t, reg, r).ID)
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
	}
	if st := s.State(ids[0]); st.Status != StatusFailed || !strings.Contains(st.Reason, "not kept") {
		t.Errorf("the oldest of three with room for two: %+v", st)
	}
	if st := s.State(ids[2]); st.Status != StatusUnavailable {
		t.Errorf("the newest: %+v", st)
	}
	mu.Lock()
	now = now.Add(DefaultTTL + time.Minute)
	mu.Unlock()
	r := request(1)
	r.Panel.Title = "d"
	accepted(t, reg, r)
	if st := s.State(ids[2]); st.Status != StatusFailed {
		t.Errorf("a job past its TTL: %+v", st)
	}
	if reg.StreamAt("explain/not-an-id") != nil || reg.StreamAt("explain/"+strings.ToUpper(ids[2])) != nil {
		t.Error("a channel that is no job id opened")
	}
}

// A model trained for less context than ollama.numCtx is asked with its
// own (Ollama would cap it there), and the prompt is fitted to that.
func TestTrainedContextCapsNumCtx(t *testing.T) {
	fake := contractfake.NewOllamaFake(t, "0.17.4", contractfake.PanelEcho(DataOpen, DataClose, 0, nil),
		contractfake.OllamaModel{Name: "phi3:mini", TrainedContext: 2048})
	s, reg := serve(t, fake.URL, Options{})
	a := accepted(t, reg, request(30))
	if st := waitStatus(t, s, a.ID, StatusDone, StatusFailed, StatusUnavailable); st.Status != StatusDone {
		t.Fatalf("state %+v", st)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Options["num_ctx"] != float64(2048) {
		t.Fatalf("requests %d, options %v", len(reqs), reqs[0].Options)
	}
	var fitted []string
	for _, m := range reqs[0].Messages {
		fitted = append(fitted, m.Content)
	}
	if est := len(strings.Join(fitted, ""))/4 + 768; est > 2048 {
		t.Errorf("prompt of ~%d tokens plus num_predict does not fit the model's 2048", est)
	}
	small, _, _ := Fit(request(30), Budget(2048, 768))
	large, _, _ := Fit(request(30), Budget(4096, 768))
	if n := strings.Count(reqs[0].Messages[1].Content, `"id":"s`); n != len(small.IDs) || n >= len(large.IDs) {
		t.Errorf("%d series sent; %d fit the trained context, %d the configured one", n, len(small.IDs), len(large.IDs))
	}
}
