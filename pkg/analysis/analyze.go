package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// KeepAlive is how long Ollama keeps the model loaded after an analysis:
// alerts come in bursts, and loading a model takes seconds to a minute on
// a CPU host.
const KeepAlive = 30 * time.Minute

// Input is what an analysis is about: an incident's stored pack and
// findings (as pkg/evidence and pkg/findings make them).
type Input struct {
	// ID names the analysis in the queue (the incident's id).
	ID       string
	Pack     evidence.Pack
	Findings []findings.Finding
}

// InputFromJSON reads a stored pack (evidence.Pack JSON) and its findings
// ([]findings.Finding JSON; empty or "null" for none).
func InputFromJSON(id string, packJSON, findingsJSON []byte) (Input, error) {
	in := Input{ID: id}
	if err := json.Unmarshal(packJSON, &in.Pack); err != nil {
		return in, fmt.Errorf("analysis %s: the stored evidence pack does not read: %w", id, err)
	}
	if s := strings.TrimSpace(string(findingsJSON)); s != "" && s != "null" {
		if err := json.Unmarshal(findingsJSON, &in.Findings); err != nil {
			return in, fmt.Errorf("analysis %s: the stored findings do not read: %w", id, err)
		}
	}
	return in, nil
}

// Events receive an analysis' progress; any may be nil. Attempt and Chunk
// are called from Run's goroutine, in order; Queued from whichever
// goroutine changed the queue (the analysis ahead finishing), never two at
// once, in the order of the changes. Keep them quick: publish and return.
type Events struct {
	// Queued: the number of analyses ahead (0: this one runs now).
	Queued func(ahead int)
	// Attempt: a request is sent (1, then 2 for the retry after invalid
	// JSON); the page clears the streamed text.
	Attempt func(n int)
	// Chunk: a piece of the model's text as it arrives.
	Chunk func(text string)
}

// Analyzer runs analyses against one Ollama model.
type Analyzer struct {
	client *ollama.Client
	llm    settings.LLM
	queue  *Queue
	now    func() time.Time
}

// New builds an analyzer for the LLM settings: Model, NumCtx (sent as
// options.num_ctx on every request, so the model is never reloaded for
// another size), NumPredict (options.num_predict), the endpoint's URL,
// TimeoutSeconds (one request, streamed body included), auth and
// AllowExternal (the egress guard). queue is shared by every analyzer of
// the process (nil: a queue of its own); now is the clock (nil:
// time.Now).
func New(s settings.LLM, queue *Queue, now func() time.Time) (*Analyzer, error) {
	c, err := ollama.New(s)
	if err != nil {
		return nil, err
	}
	if queue == nil {
		queue = NewQueue(nil)
	}
	if now == nil {
		now = time.Now
	}
	return &Analyzer{client: c, llm: s, queue: queue, now: now}, nil
}

// Close releases the client's connections.
func (a *Analyzer) Close() { a.client.Close() }

// Client is the Ollama client (health checks, model info).
func (a *Analyzer) Client() *ollama.Client { return a.client }

// Request builds the chat request of a prompt: system and user messages,
// stream on, format = Schema(ids), temperature 0, num_ctx and num_predict
// from the settings, keep_alive, truncate false (an overflow is an error,
// not a silently cut prompt) and shift false (no context shift while
// generating).
func Request(s settings.LLM, pr Prompt, ids []string) *api.ChatRequest {
	f := false
	t := true
	return &api.ChatRequest{
		Model: s.Model,
		Messages: []api.Message{
			{Role: "system", Content: pr.System},
			{Role: "user", Content: pr.User},
		},
		Stream:    &t,
		Format:    Schema(ids),
		KeepAlive: &api.Duration{Duration: KeepAlive},
		Options: map[string]any{
			"temperature": 0,
			"num_ctx":     s.NumCtx,
			"num_predict": s.NumPredict,
		},
		Truncate: &f,
		Shift:    &f,
	}
}

// Prepare is the pipeline's pure part: the prompt fitted to the budget
// and the request. ids are the stored pack's evidence ids (the schema's
// enum).
func Prepare(s settings.LLM, in Input) (*api.ChatRequest, Prompt, []ShrinkStep, error) {
	pr, shrunk, err := Fit(in.Pack, in.Findings, PromptBudget(s.NumCtx, s.NumPredict))
	if err != nil {
		return nil, pr, shrunk, err
	}
	return Request(s, pr, packIDs(&in.Pack)), pr, shrunk, nil
}

// Run analyses one incident: it waits its turn for the model (Queue),
// reads the model's trained and allocated context (/api/show, /api/ps),
// fits the prompt to num_ctx − num_predict, streams the answer (Events),
// retries once when the answer is not a valid Answer, and guards it.
//
// The Result is always filled in for the incident to store. err is nil
// when the model answered (Status done); otherwise Status is fallback and
// err is the cause: *ollama.Error (model not pulled, Ollama down, timeout,
// context too small, egress blocked, stream truncated, canceled), a
// *BudgetError, or an *InvalidAnswerError.
func (a *Analyzer) Run(ctx context.Context, in Input, ev Events) (Result, error) {
	began := a.now()
	res := Result{Model: a.llm.Model, NumCtx: a.llm.NumCtx, NumPredict: a.llm.NumPredict, StartedAt: began.UTC(),
		Tokens: Tokens{Budget: PromptBudget(a.llm.NumCtx, a.llm.NumPredict)}}
	finish := func(err error) (Result, error) {
		res.FinishedAt = a.now().UTC()
		res.Timings.WallMs = res.FinishedAt.Sub(res.StartedAt).Milliseconds()
		if err != nil {
			res.Status = StatusFallback
			res.Error = errorInfo(err)
			res.Fallback = "the write-up is not available: " + err.Error() + "; the deterministic findings stand"
		} else {
			res.Status = StatusDone
		}
		return res, err
	}
	req, pr, shrunk, err := Prepare(a.llm, in)
	res.Tokens.Estimate, res.Shrunk = pr.Estimate, shrunk
	if err != nil {
		var be *BudgetError
		if errors.As(err, &be) {
			be.NumCtx, be.NumPredict = a.llm.NumCtx, a.llm.NumPredict
		}
		return finish(err)
	}
	id := in.ID
	if id == "" {
		id = fmt.Sprintf("analysis-%d", began.UnixNano())
	}
	var runErr error
	err = a.queue.Do(ctx, a.llm.Model, id, ev.Queued, func(ctx context.Context) error {
		res.Timings.QueueMs = a.now().Sub(began).Milliseconds()
		runErr = a.run(ctx, req, in, ev, &res)
		return nil
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return finish(a.client.Classify(ollama.PathChat, a.llm.Model, err)) // canceled or timed out in the queue
	case err != nil:
		return finish(err) // already queued
	}
	return finish(runErr)
}

func (a *Analyzer) run(ctx context.Context, req *api.ChatRequest, in Input, ev Events, res *Result) error {
	info, err := a.client.ModelInfo(ctx, a.llm.Model)
	if err != nil {
		var oe *ollama.Error
		if errors.As(err, &oe) && oe.Kind != ollama.ErrOther {
			return err // not pulled, down, blocked, timeout: the chat would fail the same way
		}
		res.Warnings = append(res.Warnings, "the model's context could not be read: "+err.Error())
	} else {
		res.Context = &info
		res.Warnings = append(res.Warnings, ContextWarnings(info, a.llm.NumCtx)...)
		if info.TrainedContext > 0 && a.llm.NumCtx > info.TrainedContext {
			// Ollama would cap num_ctx at the trained maximum: budget for
			// what the model really has, and ask for that.
			s := a.llm
			s.NumCtx = info.TrainedContext
			var shrunk []ShrinkStep
			var pr Prompt
			req, pr, shrunk, err = Prepare(s, in)
			res.NumCtx, res.Tokens.Budget = s.NumCtx, PromptBudget(s.NumCtx, s.NumPredict)
			res.Tokens.Estimate, res.Shrunk = pr.Estimate, shrunk
			if err != nil {
				var be *BudgetError
				if errors.As(err, &be) {
					be.NumCtx, be.NumPredict = s.NumCtx, s.NumPredict
				}
				return err
			}
		}
	}
	for attempt := 1; attempt <= 2; attempt++ {
		res.Attempts = attempt
		if attempt == 2 {
			req = Retry(req, res.InvalidReason)
		}
		if ev.Attempt != nil {
			ev.Attempt(attempt)
		}
		sent := a.now()
		first := true
		out, err := a.client.Chat(ctx, req, func(s string) {
			if first {
				res.Timings.FirstChunkMs = a.now().Sub(sent).Milliseconds()
				first = false
			}
			if ev.Chunk != nil {
				ev.Chunk(s)
			}
		})
		m := out.Final.Metrics
		res.Tokens.Prompt, res.Tokens.Output = m.PromptEvalCount, m.EvalCount
		res.Timings.LoadMs, res.Timings.PromptEvalMs = m.LoadDuration.Milliseconds(), m.PromptEvalDuration.Milliseconds()
		res.Timings.EvalMs, res.Timings.TotalMs = m.EvalDuration.Milliseconds(), m.TotalDuration.Milliseconds()
		res.DoneReason = out.Final.DoneReason
		if err != nil {
			return err
		}
		ans, perr := ParseAnswer(out.Content)
		if perr == nil {
			res.Answer = &ans
			v := Guard(ans, &in.Pack, in.Findings)
			res.Guard = &v
			res.Invalid, res.InvalidReason = "", ""
			return nil
		}
		reason := perr.Error()
		if out.Final.DoneReason == "length" {
			reason = fmt.Sprintf("the answer reached num_predict (%d tokens) and was cut: %s", a.llm.NumPredict, reason)
		}
		res.Invalid, res.InvalidReason = capText(out.Content, MaxInvalidText), reason
	}
	return &InvalidAnswerError{Model: a.llm.Model, Reason: res.InvalidReason}
}

// RetryNote is appended to the user message of the one retry after an
// invalid answer: at temperature 0 the same request would most likely get
// the same answer, so the retry says what was wrong (the reason, cleaned
// and capped: it can quote the model's text) and asks for brevity (an
// answer cut at num_predict is the usual cause).
const RetryNote = "\nYour previous answer was not usable (%s). Answer again with only the JSON object, briefly: a short summary, at most two remediation steps."

// Retry is the retry's request: req with RetryNote added to its last
// message (a copy; req is unchanged).
func Retry(req *api.ChatRequest, reason string) *api.ChatRequest {
	r := *req
	r.Messages = append([]api.Message(nil), req.Messages...)
	last := &r.Messages[len(r.Messages)-1]
	last.Content += fmt.Sprintf(RetryNote, Clean(reason, MaxText))
	return &r
}

// InvalidAnswerError: the model's answer was not a valid Answer twice.
type InvalidAnswerError struct {
	Model, Reason string
}

func (e *InvalidAnswerError) Error() string {
	return fmt.Sprintf("%s's answer was not valid JSON of the write-up's schema twice (%s)", e.Model, e.Reason)
}

// ContextWarnings say what the model's context means for num_ctx: over the
// trained maximum (Ollama caps it there), or a reload because the model is
// loaded with another size.
func ContextWarnings(info ollama.ModelInfo, numCtx int) []string {
	var w []string
	if info.TrainedContext > 0 && numCtx > info.TrainedContext {
		w = append(w, fmt.Sprintf("ollama.numCtx %d exceeds %s's trained context of %d tokens: the analysis asks for %d (Ollama would cap it there); lower ollama.numCtx to %d",
			numCtx, info.Model, info.TrainedContext, info.TrainedContext, info.TrainedContext))
	}
	if info.Loaded && info.Allocated > 0 && info.Allocated != numCtx && !(info.TrainedContext > 0 && numCtx > info.TrainedContext && info.Allocated == info.TrainedContext) {
		w = append(w, fmt.Sprintf("%s is loaded with a context of %d tokens; this request's num_ctx %d reloads it (keep one numCtx per model)",
			info.Model, info.Allocated, numCtx))
	}
	return w
}

func errorInfo(err error) *ErrorInfo {
	var oe *ollama.Error
	var be *BudgetError
	var ie *InvalidAnswerError
	switch {
	case errors.As(err, &oe):
		return &ErrorInfo{Kind: string(oe.Kind), Message: oe.Message}
	case errors.As(err, &be):
		return &ErrorInfo{Kind: KindBudget, Message: be.Error()}
	case errors.As(err, &ie):
		return &ErrorInfo{Kind: KindInvalidAnswer, Message: ie.Error()}
	}
	return &ErrorInfo{Kind: string(ollama.ErrOther), Message: err.Error()}
}

func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Clean(s, n)
}
