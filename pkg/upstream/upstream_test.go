package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHeadersPathPrefixAndQuery(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c, err := New(Config{Name: "Prometheus", BaseURL: srv.URL + "/api/datasources/proxy/uid/prom/",
		Authorization: "Bearer tok", TenantHeader: "X-Scope-OrgID", TenantID: "team-a"})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ OK bool }
	if err := c.GetJSON(context.Background(), "/api/v1/query", url.Values{"query": {"up"}}, &out); err != nil || !out.OK {
		t.Fatalf("GetJSON: %v %+v", err, out)
	}
	if got.URL.Path != "/api/datasources/proxy/uid/prom/api/v1/query" || got.URL.Query().Get("query") != "up" {
		t.Errorf("request went to %s", got.URL)
	}
	if got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get("X-Scope-OrgID") != "team-a" {
		t.Errorf("headers: %v", got.Header)
	}
}

func TestErrorsNameTheServiceAndHideCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/denied":
			http.Error(w, "invalid token", http.StatusUnauthorized)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/notjson":
			_, _ = w.Write([]byte("<html>"))
		}
	}))
	defer srv.Close()
	c, _ := New(Config{Name: "Loki", BaseURL: srv.URL, Authorization: "Bearer s3cr3t", Timeout: 100 * time.Millisecond, MaxResponseBytes: 1024})

	_, err := c.Do(context.Background(), http.MethodGet, "/denied", url.Values{"token": {"s3cr3t"}}, nil, "")
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 401 || !strings.Contains(err.Error(), "Loki") || !strings.Contains(err.Error(), "invalid token") {
		t.Errorf("401: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("credentials in error: %v", err)
	}
	_, err = c.Do(context.Background(), http.MethodGet, "/slow", nil, nil, "")
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("slow upstream must be a timeout, got %v", err)
	}
	_, err = c.Do(context.Background(), http.MethodGet, "/big", nil, nil, "")
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized answer: %v", err)
	}
	var v map[string]any
	if err := c.GetJSON(context.Background(), "/notjson", nil, &v); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("non-JSON answer: %v", err)
	}
	srv.Close()
	_, err = c.Do(context.Background(), http.MethodGet, "/", nil, nil, "")
	if !errors.As(err, &ue) || ue.Status != 0 || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("down upstream: %v", err)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "prometheus:9090", "ftp://x", "http://"} {
		if _, err := New(Config{Name: "Prometheus", BaseURL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestNewRejectsCredentialsInBaseURLWithoutEchoingThem(t *testing.T) {
	_, err := New(Config{Name: "Prometheus", BaseURL: "http://admin:hunter2@prometheus:9090"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("want a refusal that hides the password, got %v", err)
	}
}

// The client_golang and Ollama clients run on HTTPClient: the same headers,
// limits and errors as Do.
func TestHTTPClientSharesTheTransport(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/slowbody":
			w.(http.Flusher).Flush()
			time.Sleep(300 * time.Millisecond)
			_, _ = w.Write([]byte("late"))
		case "/elsewhere":
			http.Redirect(w, r, "http://localhost"+strings.TrimPrefix(r.Host, "127.0.0.1")+"/landed", http.StatusFound)
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	c, err := New(Config{Name: "Tempo", BaseURL: srv.URL, Authorization: "Bearer s3cr3t", TenantHeader: "X-Scope-OrgID",
		TenantID: "team-a", Timeout: 100 * time.Millisecond, MaxResponseBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	hc := c.HTTPClient()
	get := func(path string) ([]byte, error) {
		resp, err := hc.Get(srv.URL + path + "?q=s3cr3t-query")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if _, err := get("/ok"); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer s3cr3t" || got.Get("X-Scope-OrgID") != "team-a" || got.Get("Accept") != "application/json" {
		t.Errorf("headers: %v", got)
	}

	_, err = get("/big")
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 200 || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized answer: %v", err)
	}
	_, err = get("/slowbody")
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("a body slower than the timeout must time out, got %v", err)
	}
	if strings.Contains(ue.Error(), "s3cr3t") || strings.Contains(ue.Error(), "?") {
		t.Errorf("the error carries the query: %v", ue)
	}

	// A redirect to another host gets neither the credentials nor the tenant.
	if _, err := get("/elsewhere"); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "" || got.Get("X-Scope-OrgID") != "" {
		t.Errorf("credentials followed a redirect to another host: %v", got)
	}

	srv.Close()
	_, err = get("/")
	// http.Client wraps it in a *url.Error that repeats the query: callers
	// report the *Error inside (TransportError).
	if !errors.As(err, &ue) || ue.Status != 0 || ue.URL != srv.URL+"/" || strings.Contains(ue.Error(), "s3cr3t") ||
		c.TransportError(nil, err) != ue {
		t.Errorf("down upstream: %v", err)
	}
}

func TestShownDropsUserinfoAndQuery(t *testing.T) {
	u, _ := url.Parse("https://u:p@example.com:8443/a/b?token=x#frag")
	if got := Shown(u); got != "https://example.com:8443/a/b" {
		t.Errorf("Shown = %q", got)
	}
}
