// Package prometheus is MeshWatch's client of the Prometheus HTTP API (or
// anything that serves it: Mimir, Thanos, Grafana's datasource proxy),
// through client_golang's API client (typed answers in prometheus/common's
// model types) running on the project's transport (pkg/upstream): the
// configured Authorization and tenant headers, per-request timeout and size
// cap. Its errors say "Prometheus at <url>" and what went wrong, and never
// carry credentials or query strings.
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Prometheus"

// API paths this package reads.
const (
	PathBuildinfo = "/api/v1/status/buildinfo"
	PathAlerts    = "/api/v1/alerts"
)

// Client reads one Prometheus.
type Client struct {
	up     *upstream.Client
	api    v1.API
	target string
}

// New builds the client for the Prometheus endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	up, err := endpoint.Client(Name, s)
	if err != nil {
		return nil, err
	}
	ac, err := api.NewClient(api.Config{Address: up.BaseURL(), Client: up.HTTPClient()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return &Client{up: up, api: v1.NewAPI(answers{Client: ac, up: up}), target: s.DisplayURL()}, nil
}

// API is client_golang's v1 API on this client's transport. Transport
// failures and HTTP errors other than the API's own (400, 422) come back as
// *upstream.Error; Explain turns the rest into messages like Alerts' errors.
func (c *Client) API() v1.API { return c.api }

// Target is the configured URL as messages and the health report show it.
func (c *Client) Target() string { return c.target }

// Close releases pooled connections; safe to call more than once.
func (c *Client) Close() { c.up.CloseIdleConnections() }

// Alerts returns every alert Prometheus evaluates now (GET /api/v1/alerts:
// pending, firing, and in Prometheus 3 kept-firing inactive ones), in the
// server's order. Every error starts with "Prometheus at <base>/api/v1/alerts".
func (c *Client) Alerts(ctx context.Context) ([]v1.Alert, error) {
	var ans answer
	res, err := c.api.Alerts(ans.record(ctx))
	if err == nil && res.Alerts == nil {
		err = errNoData
	}
	if err != nil {
		return nil, c.explain(PathAlerts, err, &ans, alertsShape)
	}
	return res.Alerts, nil
}

// Buildinfo reads GET /api/v1/status/buildinfo.
func (c *Client) Buildinfo(ctx context.Context) (v1.BuildinfoResult, error) {
	var ans answer
	res, err := c.api.Buildinfo(ans.record(ctx))
	if err == nil && res == (v1.BuildinfoResult{}) {
		err = errNoData
	}
	if err != nil {
		return v1.BuildinfoResult{}, c.explain(PathBuildinfo, err, &ans, buildinfoShape)
	}
	return res, nil
}

// Probe reads the build information: the version, or why Prometheus cannot
// be read.
func (c *Client) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		info, err := c.Buildinfo(ctx)
		var ae *AnswerError
		if errors.As(err, &ae) && ae.NotAPI {
			return health.Outcome{}, fmt.Errorf("%s did not answer like the Prometheus API (status %q)", c.target, ae.Status)
		}
		if err != nil {
			return health.Outcome{}, err
		}
		return health.Outcome{Version: info.Version}, nil
	}
}

// Explain turns an error of an API() call to path into this package's
// messages: *upstream.Error for transport and HTTP failures, *AnswerError
// for answers that are not what the API promises.
func (c *Client) Explain(path string, err error) error {
	return c.explain(path, err, nil, shape{missing: "the answer has no data", wrong: "data is not what the API promises"})
}

// AnswerError is an answer that is not what the Prometheus API promises:
// not JSON, not the API's envelope, an error status, or data of the wrong
// shape. Transport and HTTP failures are *upstream.Error instead.
type AnswerError struct {
	// URL is where the answer came from, without credentials or query.
	URL string
	// Problem says what is wrong ("the answer is not JSON: …").
	Problem string
	// NotAPI is set when the answer is JSON without the API's envelope;
	// Status is then the envelope status it had ("" when none).
	NotAPI bool
	Status string
	// Type is the API's errorType when it answered with an error.
	Type v1.ErrorType
	Err  error
}

func (e *AnswerError) Error() string {
	if strings.HasPrefix(e.Problem, "answered ") {
		return Name + " at " + e.URL + " " + e.Problem
	}
	return Name + " at " + e.URL + ": " + e.Problem
}

func (e *AnswerError) Unwrap() error { return e.Err }

// shape names what an endpoint's data should hold, for messages.
type shape struct{ missing, wrong string }

var (
	alertsShape    = shape{missing: "the answer has no data.alerts list", wrong: "data.alerts is not a list of alerts"}
	buildinfoShape = shape{missing: "the answer has no data", wrong: "data is not build information"}
)

var errNoData = errors.New("no data")

// explain maps client_golang's errors for a call to path; ans, when set, is
// the raw answer the call got, to tell an envelope problem from a data one.
func (c *Client) explain(path string, err error, ans *answer, sh shape) error {
	at := c.up.URL(path, nil)
	var ue *upstream.Error
	var ae *AnswerError
	var apiErr *v1.Error
	switch {
	case errors.As(err, &ue):
		return ue
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &upstream.Error{Service: Name, URL: at, Err: err}
	case errors.As(err, &apiErr):
		switch apiErr.Type {
		case v1.ErrBadResponse:
			if !ans.seen() {
				return &AnswerError{URL: at, Problem: "the answer is not JSON: " + apiErr.Msg, Err: err}
			}
			env, jerr := parseEnvelope(ans.body)
			switch {
			case jerr != nil:
				return &AnswerError{URL: at, Problem: "the answer is not JSON: " + jerr.Error(), Err: err}
			case env.Status != "success" && env.Status != "error":
				return notAPI(at, env.Status, err)
			}
			return &AnswerError{URL: at, Problem: "the answer is not a valid Prometheus API answer: " + apiErr.Msg, Err: err}
		case v1.ErrClient, v1.ErrServer:
			// answers turns these into *upstream.Error; kept for safety.
			return &AnswerError{URL: at, Problem: "answered " + apiErr.Msg, Err: err}
		}
		status := 0
		if ans.seen() {
			status = ans.status
		}
		return apiError(at, apiErr.Type, apiErr.Msg, status, err)
	}
	// The envelope was fine for client_golang; the data was not.
	if ans.seen() {
		env, jerr := parseEnvelope(ans.body)
		switch {
		case jerr != nil:
			return &AnswerError{URL: at, Problem: "the answer is not JSON: " + jerr.Error(), Err: err}
		case env.Status != "success":
			return notAPI(at, env.Status, err)
		case len(env.Data) == 0 || string(env.Data) == "null" || errors.Is(err, errNoData):
			return &AnswerError{URL: at, Problem: sh.missing, Err: err}
		}
	} else if errors.Is(err, errNoData) {
		return &AnswerError{URL: at, Problem: sh.missing, Err: err}
	}
	return &AnswerError{URL: at, Problem: sh.wrong + ": " + decodeMessage(err), Err: err}
}

// decodeMessage is a decoding error without the excerpts of the answer that
// json-iterator appends ("error found in #10 byte of ...|…|...").
func decodeMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ", error found in #"); i > 0 {
		return msg[:i]
	}
	return msg
}

func notAPI(at, status string, err error) *AnswerError {
	return &AnswerError{URL: at, Problem: fmt.Sprintf("the answer is not a Prometheus API answer (status %q)", status),
		NotAPI: true, Status: status, Err: err}
}

// apiError is the API's own error answer (status "error").
func apiError(at string, typ v1.ErrorType, msg string, httpStatus int, err error) *AnswerError {
	parts := []string{}
	for _, p := range []string{string(typ), msg} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no reason given")
	}
	problem := "answered with an error: " + strings.Join(parts, ": ")
	if httpStatus != 0 && httpStatus != http.StatusOK {
		problem += fmt.Sprintf(" (HTTP %d)", httpStatus)
	}
	return &AnswerError{URL: at, Problem: problem, Status: "error", Type: typ, Err: err}
}

// envelope is the frame of every Prometheus API answer.
type envelope struct {
	Status    string          `json:"status"`
	ErrorType v1.ErrorType    `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	err := json.Unmarshal(body, &env)
	return env, err
}

// answer is the raw answer of one call, recorded for explain.
type answer struct {
	status int // 0 until an answer arrived
	body   []byte
}

func (a *answer) seen() bool { return a != nil && a.status != 0 }

type answerKey struct{}

func (a *answer) record(ctx context.Context) context.Context {
	return context.WithValue(ctx, answerKey{}, a)
}

// answers is client_golang's api.Client with the project's error rules:
// transport failures are the transport's *upstream.Error (without the URL's
// query, which *url.Error repeats), and an HTTP error other than the API's
// own 400 and 422 is an *upstream.Error with the status, or the API's error
// when the body is one. It also records the raw answer for explain.
type answers struct {
	api.Client
	up *upstream.Client
}

func (a answers) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := a.Client.Do(ctx, req)
	if rec, ok := ctx.Value(answerKey{}).(*answer); ok && resp != nil {
		rec.status, rec.body = resp.StatusCode, body
	}
	if err != nil {
		return resp, body, a.up.TransportError(req.URL, err)
	}
	code := resp.StatusCode
	if code/100 == 2 || code == http.StatusBadRequest || code == http.StatusUnprocessableEntity {
		return resp, body, nil
	}
	// The health report's advice for 401, 403 and 404 needs the status;
	// Prometheus' own errors (503 unavailable, 500 internal, …) read better
	// as the API's words.
	if code != http.StatusUnauthorized && code != http.StatusForbidden && code != http.StatusNotFound {
		if env, jerr := parseEnvelope(body); jerr == nil && env.Status == "error" {
			return resp, body, apiError(upstream.Shown(req.URL), env.ErrorType, env.Error, code, nil)
		}
	}
	return resp, body, a.up.StatusError(req.URL, code, body)
}
