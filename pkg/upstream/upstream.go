// Package upstream is the one HTTP client code path MeshWatch uses for every
// external service (Prometheus, Loki, Tempo, Alertmanager, Ollama, the
// Kubernetes API): a base URL that is either the service itself or Grafana's
// datasource proxy, an optional Authorization header, an optional tenant
// header, a timeout and a cap on response size. Errors say which service
// failed and how, and never contain the credentials.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxResponseBytes caps a response body when Config leaves it zero.
const DefaultMaxResponseBytes = 32 << 20

// Config describes one upstream service.
type Config struct {
	// Name is how errors refer to the service ("Prometheus").
	Name string
	// BaseURL is the service root, with any path prefix
	// (e.g. http://grafana:3000/api/datasources/proxy/uid/prom).
	BaseURL string
	// Authorization is the full header value, or "" for none.
	Authorization string
	// TenantHeader and TenantID add a tenant header when TenantID is set.
	TenantHeader, TenantID string
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// MaxResponseBytes caps a response body (default 32 MiB).
	MaxResponseBytes int64
	// DialContext replaces the default dialer (used for the egress guard).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Transport replaces the default transport entirely (TLS settings).
	Transport http.RoundTripper
}

// Client calls one upstream service.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q must be an absolute http(s) URL", cfg.Name, cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // telemetry stays on the paths the admin configured
		if cfg.DialContext != nil {
			t.DialContext = cfg.DialContext
		}
		t.MaxIdleConnsPerHost = 4
		rt = t
	}
	return &Client{cfg: cfg, base: base, http: &http.Client{Transport: rt, Timeout: cfg.Timeout}}, nil
}

// Name returns the service's display name.
func (c *Client) Name() string { return c.cfg.Name }

// BaseURL returns the configured base URL (it never carries credentials).
func (c *Client) BaseURL() string { return c.base.String() }

// Error is a failed call: transport failure (Status 0) or a non-2xx answer.
type Error struct {
	Service string
	URL     string
	Status  int
	// Body is the start of the response body, for the message.
	Body string
	Err  error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s at %s is unreachable: %v", e.Service, e.URL, e.Err)
	}
	msg := fmt.Sprintf("%s at %s answered HTTP %d", e.Service, e.URL, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the call gave up waiting.
func (e *Error) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}

// URL joins path and query onto the base URL.
func (c *Client) URL(path string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + strings.TrimLeft(path, "/")
	u.RawQuery = query.Encode()
	return u.String()
}

// Do sends a request to path and returns the body of a 2xx answer.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string) ([]byte, error) {
	full := c.URL(path, query)
	shown := c.URL(path, nil)
	req, err := http.NewRequestWithContext(ctx, method, full, body)
	if err != nil {
		return nil, &Error{Service: c.cfg.Name, URL: shown, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cfg.Authorization != "" {
		req.Header.Set("Authorization", c.cfg.Authorization)
	}
	if c.cfg.TenantID != "" && c.cfg.TenantHeader != "" {
		req.Header.Set(c.cfg.TenantHeader, c.cfg.TenantID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Service: c.cfg.Name, URL: shown, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, &Error{Service: c.cfg.Name, URL: shown, Status: 0, Err: err}
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, &Error{Service: c.cfg.Name, URL: shown, Status: resp.StatusCode,
			Err: fmt.Errorf("response larger than %d bytes", c.cfg.MaxResponseBytes), Body: "response too large"}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &Error{Service: c.cfg.Name, URL: shown, Status: resp.StatusCode, Body: snippet(data)}
	}
	return data, nil
}

// GetJSON GETs path and decodes the JSON answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	data, err := c.Do(ctx, http.MethodGet, path, query, nil, "")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Service: c.cfg.Name, URL: c.URL(path, nil), Status: 200,
			Err: err, Body: "answer is not the expected JSON: " + err.Error()}
	}
	return nil
}

// stripURL drops the request URL (which may carry query values) from
// transport errors and keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// CloseIdleConnections releases pooled connections (on instance disposal).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
