package explain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/analysis"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// Defaults of Options.
const (
	// DefaultTTL is how long a job is kept after it was asked for (a
	// running one stays until it ends).
	DefaultTTL = 10 * time.Minute
	// DefaultMaxJobs bounds the jobs kept: past it, the oldest finished
	// one goes; with every one still running, a new request is refused
	// (429).
	DefaultMaxJobs = 32
	// MaxSeries and MaxQueries bound a request (the frontend's budget
	// sends far fewer).
	MaxSeries  = 500
	MaxQueries = 26
)

// Options is what New builds the capability from.
type Options struct {
	// Ollama is the configured client, LLM its settings (model, num_ctx,
	// num_predict); a nil Ollama means no LLM explains panels and
	// Unavailable says why.
	Ollama      *ollama.Client
	LLM         settings.LLM
	Unavailable string
	// Queue is the process's model queue, shared with the root-cause
	// write-ups (pkg/analysis), so the model runs one job at a time (nil:
	// a queue of its own).
	Queue *analysis.Queue
	// Sources answer explain/data.
	Sources Sources
	// TTL, MaxJobs and Heartbeat (the stream re-sends an unchanged state;
	// 30 s) default when zero; Now is the clock.
	TTL       time.Duration
	MaxJobs   int
	Heartbeat time.Duration
	Now       func() time.Time
}

// Service is one app instance's "Explain this panel" capability.
type Service struct {
	o      Options
	mu     sync.Mutex
	jobs   map[string]*job
	hub    *capability.Hub
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// job is one explanation: its request, when it was asked for, its state.
type job struct {
	id      string
	req     Request
	created time.Time
	state   State
}

func (j *job) running() bool {
	return j.state.Status == StatusQueued || j.state.Status == StatusStreaming
}

// Wire builds the capability from the instance's settings and systems and
// registers it: the configured Ollama and model on queue, Prometheus and
// Loki for explain/data.
func Wire(reg *capability.Registry, cfg settings.Settings, sys *systems.Set, queue *analysis.Queue) *Service {
	o := Options{LLM: cfg.Ollama, Queue: queue, Sources: SourcesOf(cfg, sys), Ollama: sys.Ollama}
	if sys.Ollama == nil {
		o.Unavailable = ollama.Unavailable("explains panels", sys.OllamaErr)
	}
	s := New(o)
	s.Register(reg)
	return s
}

// New builds the service; Register makes it serve.
func New(o Options) *Service {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxJobs <= 0 {
		o.MaxJobs = DefaultMaxJobs
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Queue == nil {
		o.Queue = analysis.NewQueue(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{o: o, jobs: map[string]*job{}, hub: &capability.Hub{}, ctx: ctx, cancel: cancel}
}

// Register registers the routes (explain, explain/data: any signed-in
// role, they only read), the Live channels explain/<id>, and what stops on
// Dispose: the explanations in progress are cancelled.
func (s *Service) Register(reg *capability.Registry) {
	reg.Route(RouteExplain, access.Require(access.Viewer, s.explain), http.MethodPost)
	reg.Route(RouteData, access.Require(access.Viewer, s.data), http.MethodPost)
	reg.StreamFamily(StreamPrefix, func(rest string) (capability.Stream, bool) {
		if !validID.MatchString(rest) {
			return nil, false
		}
		return stream{s, rest}, true
	})
	reg.OnDispose(s.close)
}

func (s *Service) close() {
	s.cancel()
	s.wg.Wait()
	s.hub.Close()
}

// validID is the form of a job id (IDLength hex digits).
var validID = regexp.MustCompile(`^[0-9a-f]{20}$`)

// IDLength is the length of a job id.
const IDLength = 20

// RequestID is the job id of a request: a hash of its content (the same
// request gets the same id, and its job is reused while it lives).
func RequestID(r Request) string {
	b, _ := json.Marshal(r) // struct fields in order, map keys sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:IDLength]
}

// Validate says what is wrong with a request, or nil.
func Validate(r Request) error {
	var problems []string
	if len(r.Queries) == 0 {
		problems = append(problems, "the panel has no queries: Explain reads Prometheus and Loki panels")
	}
	if len(r.Queries) > MaxQueries {
		problems = append(problems, fmt.Sprintf("%d queries: at most %d", len(r.Queries), MaxQueries))
	}
	for i, q := range r.Queries {
		if t := q.Datasource.Type; t != DatasourcePrometheus && t != DatasourceLoki {
			problems = append(problems, fmt.Sprintf("queries[%d] (refId %q): datasource type %q is not supported; Explain reads Prometheus and Loki panels", i, q.RefID, t))
		}
	}
	if r.TimeRange.From.IsZero() || r.TimeRange.To.IsZero() || !r.TimeRange.From.Before(r.TimeRange.To) {
		problems = append(problems, "timeRange: from and to must be RFC 3339 times, from before to")
	}
	if len(r.Series) > MaxSeries {
		problems = append(problems, fmt.Sprintf("%d series: at most %d (summarize fewer and count the rest in omittedSeries)", len(r.Series), MaxSeries))
	}
	seen := map[string]bool{}
	for i, s := range r.Series {
		switch {
		case strings.TrimSpace(s.ID) == "":
			problems = append(problems, fmt.Sprintf("series[%d] has no id", i))
		case seen[s.ID]:
			problems = append(problems, fmt.Sprintf("series[%d]: id %q is used twice", i, s.ID))
		}
		seen[s.ID] = true
	}
	if r.OmittedSeries < 0 {
		problems = append(problems, "omittedSeries is negative")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// explain is POST explain: 202 with the job's id and channel; the job
// starts (or the living job of the same request is reused).
func (s *Service) explain(w http.ResponseWriter, r *http.Request) {
	var req Request
	if !httpjson.Decode(w, r, MaxBody, &req) {
		return
	}
	if err := Validate(req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid explain request", err.Error())
		return
	}
	id := RequestID(req)
	j, err := s.start(id, req)
	if err != nil {
		httpjson.Error(w, http.StatusTooManyRequests, "too many explanations in progress", err.Error())
		return
	}
	httpjson.Write(w, http.StatusAccepted, Accepted{ID: j.id, Channel: StreamPrefix + "/" + j.id, Unavailable: s.o.Unavailable})
}

// start returns the living job of id, or starts one: without an LLM it is
// unavailable at once; a failed or unavailable job is started again.
func (s *Service) start(id string, req Request) (*job, error) {
	now := s.o.Now()
	s.mu.Lock()
	s.sweepLocked(now)
	if j, ok := s.jobs[id]; ok && (j.running() || j.state.Status == StatusDone || s.o.Ollama == nil) {
		s.mu.Unlock()
		return j, nil
	}
	delete(s.jobs, id)
	if len(s.jobs) >= s.o.MaxJobs && !s.evictLocked() {
		n := len(s.jobs)
		s.mu.Unlock()
		return nil, fmt.Errorf("%d explanations are queued or running; try again in a minute", n)
	}
	j := &job{id: id, req: req, created: now, state: State{Status: StatusQueued, Model: s.o.LLM.Model}}
	if s.o.Ollama == nil {
		j.state = State{Status: StatusUnavailable, Reason: s.o.Unavailable}
	}
	s.jobs[id] = j
	if s.o.Ollama != nil && s.ctx.Err() == nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(j)
		}()
	}
	s.mu.Unlock()
	s.hub.Changed()
	return j, nil
}

// sweepLocked forgets the finished jobs older than TTL.
func (s *Service) sweepLocked(now time.Time) {
	for id, j := range s.jobs {
		if !j.running() && now.Sub(j.created) > s.o.TTL {
			delete(s.jobs, id)
		}
	}
}

// evictLocked forgets the oldest finished job; false when all run.
func (s *Service) evictLocked() bool {
	var oldest *job
	for _, j := range s.jobs {
		if !j.running() && (oldest == nil || j.created.Before(oldest.created)) {
			oldest = j
		}
	}
	if oldest == nil {
		return false
	}
	delete(s.jobs, oldest.id)
	return true
}

// State is job id's state; a job not (or no longer) kept is failed, saying
// so.
func (s *Service) State(id string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.state
	}
	return State{Status: StatusFailed, Reason: fmt.Sprintf("this explanation is not kept any more (they are kept %s): ask again", s.o.TTL)}
}

func (s *Service) update(j *job, f func(*State)) {
	s.mu.Lock()
	f(&j.state)
	s.mu.Unlock()
	s.hub.Changed()
}

// RetryNote is appended to the user message of the one retry after an
// invalid answer (at temperature 0 the same request would most likely get
// the same answer).
const RetryNote = "\nYour previous answer was not usable (%s). Answer again with only the JSON object, briefly: at most three notable points, two causes and two next queries."

// ChatRequest builds the chat request of a prompt: pkg/analysis's request (system and
// user messages, stream, temperature 0, num_ctx and num_predict, keep_alive,
// truncate and shift off) with this package's Schema as its format.
func ChatRequest(s settings.LLM, pr Prompt) *api.ChatRequest {
	req := analysis.Request(s, pr.Prompt, nil)
	req.Format = Schema(pr.IDs)
	return req
}

// run explains one request: the prompt fitted to the budget, the turn in
// the model's queue, the streamed answer, one retry when it is not a valid
// Answer, and the guard.
func (s *Service) run(j *job) {
	llm := s.o.LLM
	pr, _, err := Fit(j.req, Budget(llm.NumCtx, llm.NumPredict))
	if err != nil {
		s.finish(j, err)
		return
	}
	chat := ChatRequest(llm, pr)
	ids := make([]string, len(j.req.Series))
	for i, sr := range j.req.Series {
		ids[i] = sr.ID
	}
	var text strings.Builder
	err = s.o.Queue.Do(s.ctx, llm.Model, StreamPrefix+"/"+j.id, func(ahead int) {
		s.update(j, func(st *State) {
			st.Position = ahead
			if ahead == 0 {
				st.Status = StatusStreaming
			}
		})
	}, func(ctx context.Context) error {
		// Ollama caps num_ctx at the model's trained context: budget for
		// what the model really has, and ask for that (as pkg/analysis does).
		info, err := s.o.Ollama.ModelInfo(ctx, llm.Model)
		var oe *ollama.Error
		switch {
		case err != nil && errors.As(err, &oe) && oe.Kind != ollama.ErrOther:
			return err // not pulled, down, blocked, timeout: the chat would fail the same way
		case err == nil && info.TrainedContext > 0 && llm.NumCtx > info.TrainedContext:
			llm.NumCtx = info.TrainedContext
			if pr, _, err = Fit(j.req, Budget(llm.NumCtx, llm.NumPredict)); err != nil {
				return err
			}
			chat = ChatRequest(llm, pr)
		}
		reason := ""
		for attempt := 1; attempt <= 2; attempt++ {
			if attempt == 2 {
				chat = retry(chat, reason)
			}
			text.Reset()
			s.update(j, func(st *State) { st.Status, st.Text = StatusStreaming, "" })
			out, err := s.o.Ollama.Chat(ctx, chat, func(c string) {
				text.WriteString(c)
				t := text.String()
				s.update(j, func(st *State) { st.Text = t })
			})
			if err != nil {
				return err
			}
			ans, perr := ParseAnswer(out.Content)
			if perr == nil {
				g := Guard(ans, ids)
				s.update(j, func(st *State) { st.Status, st.Answer, st.Reason = StatusDone, &g, "" })
				return nil
			}
			reason = perr.Error()
			if out.Final.DoneReason == "length" {
				reason = fmt.Sprintf("the answer reached num_predict (%d tokens) and was cut: %s", llm.NumPredict, reason)
			}
		}
		return &InvalidAnswerError{Model: llm.Model, Reason: reason}
	})
	s.finish(j, err)
}

// finish records a job's failure (nil: it is done already).
func (s *Service) finish(j *job, err error) {
	if err == nil {
		return
	}
	status := StatusFailed
	var oe *ollama.Error
	if errors.As(err, &oe) {
		switch oe.Kind {
		case ollama.ErrDown, ollama.ErrModelMissing, ollama.ErrBlocked:
			status = StatusUnavailable
		}
	} else if s.ctx.Err() != nil {
		err = errors.New("MeshWatch's settings changed while the panel was explained: ask again")
	}
	s.update(j, func(st *State) { st.Status, st.Reason, st.Position = status, err.Error(), 0 })
}

func retry(req *api.ChatRequest, reason string) *api.ChatRequest {
	r := *req
	r.Messages = append([]api.Message(nil), req.Messages...)
	last := &r.Messages[len(r.Messages)-1]
	last.Content += fmt.Sprintf(RetryNote, analysis.Clean(reason, analysis.MaxText))
	return &r
}

// InvalidAnswerError: the model's answer was not a valid Answer twice.
type InvalidAnswerError struct {
	Model, Reason string
}

func (e *InvalidAnswerError) Error() string {
	return fmt.Sprintf("%s's answer was not valid JSON of the explanation's schema twice (%s)", e.Model, e.Reason)
}

// Frame is a state as the one-row frame streamed on explain/<id>.
func Frame(st State) *data.Frame {
	b, err := json.Marshal(st)
	if err != nil {
		b = []byte(`{"status":"failed","reason":"the state could not be encoded"}`)
	}
	return data.NewFrame(FrameName, data.NewField(FieldResponse, nil, []string{string(b)}))
}

type stream struct {
	s  *Service
	id string
}

// Subscribe lets any signed-in user follow an explanation (the id is a
// hash of the request: knowing it means having sent the request).
func (st stream) Subscribe(_ context.Context, u *access.User, _ json.RawMessage) ([]byte, error) {
	if u == nil {
		return nil, capability.ErrForbidden
	}
	return json.Marshal(Frame(st.s.State(st.id)))
}

// minGap keeps a fast model's tokens from turning into a frame each.
const minGap = 150 * time.Millisecond

// Run sends the state at once, on every change (those within minGap as
// one frame), and at least every Heartbeat.
func (st stream) Run(ctx context.Context, _ json.RawMessage, send func(*data.Frame) error) error {
	return capability.Feed(ctx, st.s.hub, st.s.o.Heartbeat, minGap,
		func() *data.Frame { return Frame(st.s.State(st.id)) }, send)
}
