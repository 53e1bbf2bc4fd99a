package ollama

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// More API paths this package calls.
const (
	PathChat = "/api/chat"
	PathShow = "/api/show"
	PathPS   = "/api/ps"
)

// Ollama's own words this package recognises in its errors (server/routes.go,
// runner): a model that is not pulled ("model \"x\" not found, try pulling it
// first", HTTP 404) and a prompt longer than num_ctx when the request says
// truncate: false.
const (
	msgNotFound        = "not found"
	MsgContextExceeded = "the input length exceeds the context length"
)

// ErrorKind says what went wrong in words a user can act on.
type ErrorKind string

// The kinds of Error.
const (
	// ErrModelMissing: the model is not pulled on the server.
	ErrModelMissing ErrorKind = "model-missing"
	// ErrDown: the server cannot be reached (refused, no route, DNS).
	ErrDown ErrorKind = "ollama-down"
	// ErrTimeout: the server did not finish within the timeout.
	ErrTimeout ErrorKind = "timeout"
	// ErrContextTooSmall: the prompt does not fit num_ctx.
	ErrContextTooSmall ErrorKind = "context-too-small"
	// ErrBlocked: the egress guard refused the address.
	ErrBlocked ErrorKind = "egress-blocked"
	// ErrTruncated: the stream ended before its final (done) message.
	ErrTruncated ErrorKind = "stream-truncated"
	// ErrCanceled: the caller gave up (context canceled).
	ErrCanceled ErrorKind = "canceled"
	// ErrOther: any other failure, with Ollama's message.
	ErrOther ErrorKind = "ollama-error"
)

// Error is a failed call to Ollama, classified. Message says what happened
// and what to do; Err is the cause (an *upstream.Error, an
// *egress.BlockedError inside one, api.StatusError…).
type Error struct {
	Kind    ErrorKind
	Model   string
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Classify turns an error of a call to path about model into an *Error
// (an *Error is returned as it is).
func (c *Client) Classify(path, model string, err error) *Error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return done
	}
	explained := c.Explain(path, err)
	e := &Error{Kind: ErrOther, Model: model, Err: explained}
	var blocked *egress.BlockedError
	var ue *upstream.Error
	var se api.StatusError
	text := err.Error()
	switch {
	case errors.As(err, &blocked):
		e.Kind, e.Message = ErrBlocked, fmt.Sprintf("%s (ollama.url %s)", blocked.Error(), c.target)
	case errors.Is(err, context.Canceled):
		e.Kind, e.Message = ErrCanceled, "the analysis was canceled"
	case strings.Contains(text, MsgContextExceeded):
		e.Kind, e.Message = ErrContextTooSmall, fmt.Sprintf(
			"Ollama refused the prompt for %s: %s (num_ctx): raise ollama.numCtx, up to the model's trained maximum, or use a model with a larger context",
			model, MsgContextExceeded)
	case errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || strings.Contains(se.ErrorMessage, msgNotFound)):
		e.Kind, e.Message = ErrModelMissing, fmt.Sprintf(
			"model %s is not pulled on %s: run `ollama pull %s` on the Ollama host, or set ollama.model to one it has", model, c.target, model)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) && ue.Timeout():
		e.Kind, e.Message = ErrTimeout, fmt.Sprintf(
			"Ollama at %s did not finish within %s: a CPU host needs longer for %s; raise ollama.timeoutSeconds or use a smaller model",
			c.target, c.timeout, model)
	case errors.As(err, &ue) && ue.Status == 0:
		e.Kind, e.Message = ErrDown, fmt.Sprintf(
			"Ollama at %s is unreachable (%v): check that `ollama serve` runs there and ollama.url", c.target, ue.Err)
	default:
		e.Message = explained.Error()
	}
	return e
}

// ChatResult is a streamed chat's outcome: the whole content and the final
// message (Done, DoneReason and Ollama's Metrics: prompt_eval_count and
// duration, eval_count and duration, load_duration, total_duration).
type ChatResult struct {
	Content string
	Final   api.ChatResponse
	// Chunks is how many streamed messages carried content.
	Chunks int
}

// Chat sends req to /api/chat and calls onChunk (may be nil) with each
// piece of content as it arrives. It fails with an *Error; a stream that
// ends without its done message (a dropped connection, a proxy's timeout)
// is ErrTruncated, or ErrTimeout when the transport's timeout ended it,
// never a short answer taken for a whole one.
func (c *Client) Chat(ctx context.Context, req *api.ChatRequest, onChunk func(string)) (ChatResult, error) {
	rec := &bodyErrors{next: c.up.HTTPClient().Transport}
	base, _ := url.Parse(c.up.BaseURL())
	cl := api.NewClient(base, &http.Client{Transport: rec})
	var out ChatResult
	var b strings.Builder
	err := cl.Chat(ctx, req, func(r api.ChatResponse) error {
		if r.Message.Content != "" {
			b.WriteString(r.Message.Content)
			out.Chunks++
			if onChunk != nil {
				onChunk(r.Message.Content)
			}
		}
		if r.Done {
			out.Final = r
		}
		return nil
	})
	out.Content = b.String()
	if err == nil && !out.Final.Done {
		// Ollama's client ends quietly when the body does: say why.
		switch bodyErr := rec.err(); {
		case ctx.Err() != nil:
			err = ctx.Err()
		case bodyErr != nil && isTimeout(bodyErr):
			err = bodyErr
		default:
			return out, &Error{Kind: ErrTruncated, Model: req.Model, Err: bodyErr, Message: fmt.Sprintf(
				"the answer from Ollama at %s ended before it was complete (%d bytes, no final message%s): the connection dropped; try again",
				c.target, b.Len(), causeNote(bodyErr))}
		}
	}
	if err != nil {
		return out, c.Classify(PathChat, req.Model, err)
	}
	return out, nil
}

func isTimeout(err error) bool {
	var ue *upstream.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) && ue.Timeout()
}

func causeNote(err error) string {
	if err == nil {
		return ""
	}
	return "; " + err.Error()
}

// bodyErrors remembers the error a response body's read ended with (Ollama's
// client drops it).
type bodyErrors struct {
	next http.RoundTripper
	mu   sync.Mutex
	last error
}

func (b *bodyErrors) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &recordingBody{ReadCloser: resp.Body, owner: b}
	return resp, nil
}

func (b *bodyErrors) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

type recordingBody struct {
	io.ReadCloser
	owner *bodyErrors
}

func (r *recordingBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		r.owner.mu.Lock()
		r.owner.last = err
		r.owner.mu.Unlock()
	}
	return n, err
}

// ModelInfo is what the server says about a model's context.
type ModelInfo struct {
	Model string `json:"model"`
	// Architecture is model_info["general.architecture"] ("phi3", "llama").
	Architecture string `json:"architecture,omitempty"`
	// TrainedContext is model_info["<arch>.context_length"]: the most the
	// model was trained for; 0 when /api/show does not say.
	TrainedContext int `json:"trainedContext,omitempty"`
	// Loaded: /api/ps lists the model; Allocated is the context_length it
	// was loaded with (a request with another num_ctx reloads it).
	Loaded    bool `json:"loaded"`
	Allocated int  `json:"allocated,omitempty"`
}

// Model reads /api/show and /api/ps about model.
func (c *Client) ModelInfo(ctx context.Context, model string) (ModelInfo, error) {
	info := ModelInfo{Model: model}
	show, err := c.api.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return info, c.Classify(PathShow, model, err)
	}
	info.Architecture, info.TrainedContext = TrainedContext(show)
	ps, err := c.api.ListRunning(ctx)
	if err != nil {
		return info, c.Classify(PathPS, model, err)
	}
	for _, m := range ps.Models {
		if SameModel(m.Name, model) || SameModel(m.Model, model) {
			info.Loaded, info.Allocated = true, m.ContextLength
		}
	}
	return info, nil
}

// TrainedContext reads the architecture and its trained context length
// from /api/show's model_info ("general.architecture", then
// "<arch>.context_length"); 0 when missing.
func TrainedContext(show *api.ShowResponse) (arch string, n int) {
	if show == nil {
		return "", 0
	}
	arch, _ = show.ModelInfo["general.architecture"].(string)
	switch v := show.ModelInfo[arch+".context_length"].(type) {
	case float64:
		n = int(v)
	case int:
		n = v
	case int64:
		n = int(v)
	}
	return arch, n
}
