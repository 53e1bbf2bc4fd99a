// Package upstream is the one HTTP code path MeshWatch uses for the external
// services it reads over HTTP (Prometheus, Loki, Tempo, Alertmanager,
// Ollama): a base URL that is either the service itself or Grafana's
// datasource proxy, an optional Authorization header, an optional tenant
// header, a per-request timeout and a cap on response size.
//
// Transport is that code path as an http.RoundTripper, so the fields' own
// clients (client_golang's API client, Ollama's api.Client) run on it; Client
// is a small caller on top of it for hand-written APIs. Errors say which
// service failed and how, and never contain the credentials or a query.
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

	"github.com/meshwatch/meshwatch/pkg/settings"
)

// Defaults for the Config fields left zero.
const (
	DefaultMaxResponseBytes = 32 << 20
	DefaultTimeout          = 10 * time.Second
)

// Config describes one upstream service.
type Config struct {
	// Name is how errors refer to the service ("Prometheus").
	Name string
	// BaseURL is the service root, with any path prefix
	// (e.g. http://grafana:3000/api/datasources/proxy/uid/prom). It must not
	// carry user-info: credentials go in Authorization.
	BaseURL string
	// Authorization is the full header value, or "" for none. It is sent to
	// BaseURL's scheme and host only, never to a redirect elsewhere.
	Authorization string
	// TenantHeader and TenantID add a tenant header when TenantID is set.
	TenantHeader, TenantID string
	// Timeout bounds one request, body included (default 10 s; negative:
	// no bound here, the request's context and the caller's client decide).
	Timeout time.Duration
	// MaxResponseBytes caps a response body (default 32 MiB).
	MaxResponseBytes int64
	// DialContext replaces the default dialer (used for the egress guard).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Transport is the RoundTripper underneath (TLS settings); nil for a
	// clone of http.DefaultTransport without proxy. The headers, the timeout
	// and the size cap are applied on top of it.
	Transport http.RoundTripper
}

// Transport is the RoundTripper form of a Config: it adds the configured
// headers, bounds each request by Timeout (its body included), fails a body
// larger than MaxResponseBytes, and turns transport failures into *Error.
// It never interprets the HTTP status: that is the caller's.
type Transport struct {
	cfg  Config
	base *url.URL
	next http.RoundTripper
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport validates cfg and returns its RoundTripper.
func NewTransport(cfg Config) (*Transport, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	switch {
	case err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "":
		return nil, fmt.Errorf("%s: base URL %q must be an absolute http(s) URL", cfg.Name, settings.ShowURL(cfg.BaseURL))
	case base.User != nil:
		return nil, fmt.Errorf("%s: base URL %q must not carry credentials", cfg.Name, settings.ShowURL(cfg.BaseURL))
	}
	base.RawQuery, base.Fragment = "", ""
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	next := cfg.Transport
	if next == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // telemetry stays on the paths the admin configured
		if cfg.DialContext != nil {
			t.DialContext = cfg.DialContext
		}
		t.MaxIdleConnsPerHost = 4
		next = t
	}
	return &Transport{cfg: cfg, base: base, next: next}, nil
}

// RoundTrip sends req with the configured headers and limits. A failure is
// an *Error naming the service and the URL without its query.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	shown := Shown(req.URL)
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, t.cfg.Timeout)
	}
	out := req.Clone(ctx)
	if out.Header.Get("Accept") == "" {
		out.Header.Set("Accept", "application/json")
	}
	if req.URL.Scheme == t.base.Scheme && req.URL.Host == t.base.Host {
		if t.cfg.Authorization != "" {
			out.Header.Set("Authorization", t.cfg.Authorization)
		}
		if t.cfg.TenantID != "" && t.cfg.TenantHeader != "" {
			out.Header.Set(t.cfg.TenantHeader, t.cfg.TenantID)
		}
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, &Error{Service: t.cfg.Name, URL: shown, Err: stripURL(err)}
	}
	resp.Body = &cappedBody{rc: resp.Body, max: t.cfg.MaxResponseBytes, cancel: cancel,
		service: t.cfg.Name, url: shown, status: resp.StatusCode}
	return resp, nil
}

// CloseIdleConnections releases the pooled connections underneath.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// cappedBody ends the request's timeout when closed and fails reads past max.
type cappedBody struct {
	rc      io.ReadCloser
	max, n  int64
	cancel  context.CancelFunc
	service string
	url     string
	status  int
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		n -= int(b.n - b.max)
		if n < 0 {
			n = 0
		}
		return n, &Error{Service: b.service, URL: b.url, Status: b.status,
			Err: fmt.Errorf("response larger than %d bytes", b.max), Body: "response too large"}
	}
	if err != nil && err != io.EOF {
		err = &Error{Service: b.service, URL: b.url, Err: err}
	}
	return n, err
}

func (b *cappedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// Client calls one upstream service through its Transport.
type Client struct {
	cfg  Config
	base *url.URL
	tr   *Transport
	http *http.Client
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	tr, err := NewTransport(cfg)
	if err != nil {
		return nil, err
	}
	// No client-level timeout: the transport bounds each request, body included.
	return &Client{cfg: tr.cfg, base: tr.base, tr: tr, http: &http.Client{Transport: tr}}, nil
}

// Name returns the service's display name.
func (c *Client) Name() string { return c.cfg.Name }

// BaseURL returns the configured base URL (it never carries credentials).
func (c *Client) BaseURL() string { return c.base.String() }

// HTTPClient is an *http.Client on the client's Transport, for the fields'
// own API clients. Its errors wrap *Error (errors.As finds it).
func (c *Client) HTTPClient() *http.Client { return c.http }

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
	req, err := http.NewRequestWithContext(ctx, method, full, body)
	if err != nil {
		return nil, &Error{Service: c.cfg.Name, URL: c.URL(path, nil), Err: stripURL(err)}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.TransportError(req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.TransportError(req.URL, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.StatusError(req.URL, resp.StatusCode, data)
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
		return c.JSONError(path, err)
	}
	return nil
}

// TransportError is err from a request to u as an *Error: the one the
// Transport made when there is one, else err without the URL it may carry.
func (c *Client) TransportError(u *url.URL, err error) *Error {
	var ue *Error
	if errors.As(err, &ue) {
		return ue
	}
	return &Error{Service: c.cfg.Name, URL: Shown(u), Err: stripURL(err)}
}

// StatusError is the *Error for a non-2xx answer with body at u.
func (c *Client) StatusError(u *url.URL, status int, body []byte) *Error {
	return &Error{Service: c.cfg.Name, URL: Shown(u), Status: status, Body: snippet(body)}
}

// JSONError is the *Error for a 2xx answer at path that is not the JSON the
// caller expected.
func (c *Client) JSONError(path string, err error) *Error {
	return &Error{Service: c.cfg.Name, URL: c.URL(path, nil), Status: 200,
		Err: err, Body: "answer is not the expected JSON: " + err.Error()}
}

// Shown is u as messages show it: no user-info, query or fragment.
func Shown(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	return v.String()
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
func (c *Client) CloseIdleConnections() { c.tr.CloseIdleConnections() }
