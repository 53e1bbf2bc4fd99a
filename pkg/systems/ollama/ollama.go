// Package ollama is MeshWatch's client of the Ollama server that writes
// root-cause analyses, through Ollama's own Go client
// (github.com/ollama/ollama/api) running on the project's transport
// (pkg/upstream): the egress guard's dialer (an external address is refused
// at dial time unless the admin allowed it), the configured Authorization
// and tenant headers, the per-request timeout and the size cap.
package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Ollama"

// API paths this package reads (Ollama's client builds them; they name the
// calls in messages).
const (
	PathVersion = "/api/version"
	PathTags    = "/api/tags"
)

// dialTimeout bounds connecting to the Ollama host.
const dialTimeout = 10 * time.Second

// Client talks to one Ollama server about one model.
type Client struct {
	up            *upstream.Client
	api           *api.Client
	model         string
	allowExternal bool
	target        string
	timeout       time.Duration
	numCtx        int
}

// ErrDisabled is New's error when ollama.disabled is set.
var ErrDisabled = errors.New("no LLM is configured (ollama.disabled is set): an admin can turn write-ups on and set Ollama's URL on the configuration page")

// Unavailable says why no LLM does what (e.g. "writes root-cause
// analyses"), given the error that left the client unbuilt: the settings
// switched it off (ErrDisabled) or it could not be built.
func Unavailable(what string, err error) string {
	if errors.Is(err, ErrDisabled) {
		why := ErrDisabled.Error() // its own words, as a sentence
		return strings.ToUpper(why[:1]) + why[1:] + "."
	}
	return fmt.Sprintf("no LLM %s: %v", what, err)
}

// New builds the client for the LLM settings (ErrDisabled when they switch
// the LLM off).
func New(s settings.LLM) (*Client, error) {
	if s.Disabled {
		return nil, ErrDisabled
	}
	up, err := endpoint.Client(Name, s.Endpoint, func(cfg *upstream.Config) {
		cfg.DialContext = egress.Dialer(s.AllowExternal, dialTimeout)
	})
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(up.BaseURL())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return &Client{up: up, api: api.NewClient(base, up.HTTPClient()), model: s.Model,
		allowExternal: s.AllowExternal, target: s.DisplayURL(), timeout: s.Timeout(), numCtx: s.NumCtx}, nil
}

// API is Ollama's client on this client's transport; Explain turns its
// errors into this package's messages.
func (c *Client) API() *api.Client { return c.api }

// Model is the configured model name.
func (c *Client) Model() string { return c.model }

// Target is the configured URL as messages and the health report show it.
func (c *Client) Target() string { return c.target }

// Close releases pooled connections; safe to call more than once.
func (c *Client) Close() { c.up.CloseIdleConnections() }

// Version reads the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.api.Version(ctx)
	if err != nil {
		return "", c.Explain(PathVersion, err)
	}
	return v, nil
}

// Models lists the models pulled on the server.
func (c *Client) Models(ctx context.Context) ([]api.ListModelResponse, error) {
	list, err := c.api.List(ctx)
	if err != nil {
		return nil, c.Explain(PathTags, err)
	}
	return list.Models, nil
}

// Probe reads the version and checks that the model is pulled, and that
// numCtx is within the model's trained context (/api/show) when the server
// says it. Its note says which kind of address the LLM sits at (the data
// egress guard).
func (c *Client) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		where := c.whereNote()
		version, err := c.Version(ctx)
		if err != nil {
			var blocked *egress.BlockedError
			if errors.As(err, &blocked) {
				return health.Outcome{}, fmt.Errorf("%s", blocked.Error())
			}
			return health.Outcome{}, err
		}
		models, err := c.Models(ctx)
		if err != nil {
			return health.Outcome{Version: version}, err
		}
		for _, m := range models {
			if SameModel(m.Name, c.model) || SameModel(m.Model, c.model) {
				note := fmt.Sprintf("model %s present; %s", c.model, where)
				// The trained context, when /api/show says it: a numCtx
				// above it is capped by Ollama, and the analysis budgets
				// for less than the admin set.
				if info, err := c.ModelInfo(ctx, c.model); err == nil && info.TrainedContext > 0 && c.numCtx > 0 {
					if c.numCtx > info.TrainedContext {
						return health.Outcome{Version: version, Warn: fmt.Sprintf(
							"model %s present, but ollama.numCtx %d exceeds its trained context of %d tokens: set ollama.numCtx to %d or less; %s",
							c.model, c.numCtx, info.TrainedContext, info.TrainedContext, where)}, nil
					}
					note += fmt.Sprintf("; numCtx %d of %d trained", c.numCtx, info.TrainedContext)
				}
				return health.Outcome{Version: version, Note: note}, nil
			}
		}
		return health.Outcome{Version: version, Warn: fmt.Sprintf(
			"model %s is not pulled on %s: run `ollama pull %s` on the Ollama host, or set ollama.model to one it has; %s",
			c.model, c.target, c.model, where)}, nil
	}
}

// whereNote says which kind of address the configured host is.
func (c *Client) whereNote() string {
	u, _ := url.Parse(c.up.BaseURL())
	class := egress.ClassifyHost(u.Hostname())
	switch {
	case class.Internal():
		return "LLM address is " + string(class)
	case class == egress.Metadata:
		return "LLM address is a cloud metadata service; connections to it are always refused"
	case !class.Allowed(c.allowExternal):
		return "LLM address is " + string(class) + "; connections are refused unless ollama.allowExternal is set"
	}
	return "LLM address is " + string(class) + " and allowed by the admin (ollama.allowExternal): evidence leaves your network"
}

// SameModel compares Ollama model names, where "phi3" means "phi3:latest".
func SameModel(a, b string) bool {
	norm := func(s string) string {
		if !strings.Contains(s, ":") {
			return s + ":latest"
		}
		return s
	}
	return a != "" && norm(a) == norm(b)
}

// Explain turns an error of Ollama's client for a call to path into the
// project's: *upstream.Error for transport failures (the egress guard's
// *egress.BlockedError inside), HTTP errors (with Ollama's message) and
// answers that are not the expected JSON.
func (c *Client) Explain(path string, err error) error {
	var ue *upstream.Error
	var se api.StatusError
	var ae api.AuthorizationError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	u, _ := url.Parse(c.up.URL(path, nil))
	switch {
	case errors.As(err, &ue):
		return ue
	case errors.As(err, &se):
		return c.up.StatusError(u, se.StatusCode, []byte(se.ErrorMessage))
	case errors.As(err, &ae):
		return c.up.StatusError(u, ae.StatusCode, []byte(ae.Status))
	case errors.As(err, &syntax), errors.As(err, &typ):
		return c.up.JSONError(path, err)
	}
	return c.up.TransportError(u, err)
}
