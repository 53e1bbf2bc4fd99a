package preview

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// maxResourceBody bounds a request body the host reads into memory.
const maxResourceBody = 16 << 20

// forwardedHeaders are the request headers the host passes to CallResource.
// Grafana removes Cookie (app plugins get none since 10.4.4), Authorization,
// hop-by-hop and connection headers, User-Agent, Origin, Referer and the
// X-Forwarded-Host/Port/Proto headers, and adds X-Grafana-Referer and
// X-Forwarded-For. The preview host keeps only this list, a subset of what
// Grafana passes, so that a plugin that works here does not depend on a
// header Grafana would drop. Its own X-Preview-Role never reaches the plugin.
var forwardedHeaders = []string{
	"Accept",
	"Accept-Encoding",
	"Accept-Language",
	"Cache-Control",
	"Content-Type",
	"If-Match",
	"If-Modified-Since",
	"If-None-Match",
	"Traceparent",
	"Tracestate",
	"X-Datasource-Uid",
	"X-Grafana-Org-Id",
	"X-Plugin-Id",
	"X-Query-Group-Id",
	"X-Request-Id",
}

// resourceHeaders builds the CallResource headers from the browser request.
func resourceHeaders(r *http.Request) map[string][]string {
	out := map[string][]string{}
	for _, name := range forwardedHeaders {
		if v := r.Header.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		out["X-Grafana-Referer"] = []string{ref}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out["X-Forwarded-For"] = []string{host}
	}
	return out
}

// handleResource is /api/plugins/<id>/resources/*: Grafana's CallResource
// proxy. Path is what follows resources/, URL adds the query, the body is
// passed whole.
func (s *Server) handleResource(w http.ResponseWriter, r *http.Request) {
	u, ok := s.resourceCaller(r)
	if !ok {
		grafanaError(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	prefix := "/api/plugins/" + s.meta.ID + "/resources"
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	rawURL := rest
	if r.URL.RawQuery != "" {
		rawURL += "?" + r.URL.RawQuery
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResourceBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			grafanaError(w, http.StatusRequestEntityTooLarge, "Request body too large")
			return
		}
		grafanaError(w, http.StatusBadRequest, "Failed to read request body")
		return
	}
	resp, err := s.backend.CallResource(r.Context(), &backend.CallResourceRequest{
		PluginContext: s.pluginContext(u),
		Path:          rest,
		Method:        r.Method,
		URL:           rawURL,
		Headers:       resourceHeaders(r),
		Body:          body,
	})
	if err != nil {
		s.log.Error("resource call failed", "path", rest, "error", err.Error())
		if errors.Is(err, errPluginUnavailable) {
			grafanaError(w, http.StatusServiceUnavailable, "Plugin unavailable")
			return
		}
		grafanaError(w, http.StatusInternalServerError, "Failed to call resource")
		return
	}
	copyResourceHeaders(w.Header(), resp.Headers)
	if w.Header().Get("Content-Type") == "" && resp.Status != http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json")
	}
	// Grafana sandboxes every proxied response.
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// resourceCaller is the user a resource call runs as. A request with an
// Authorization header is a machine caller, as Grafana authenticates it: the
// token must be one of the host's service-account tokens (the header itself
// never reaches the plugin), and the plugin sees the service account as the
// user, with its role. Anything else is the browser session.
func (s *Server) resourceCaller(r *http.Request) (user, bool) {
	if r.Header.Get("Authorization") == "" {
		return userOf(r, s.defaultRole), true
	}
	who, role, ok, _ := s.caller(r)
	if !ok {
		return user{}, false
	}
	name := strings.TrimPrefix(who, "sa:")
	return user{Login: "sa-1-" + name, Name: name, Role: role}, true
}

// dropResponseHeaders are removed from the plugin's answer, as Grafana does:
// no cookies from a plugin reach the browser, no hop-by-hop headers.
var dropResponseHeaders = map[string]bool{
	"Set-Cookie": true, "Connection": true, "Proxy-Connection": true, "Keep-Alive": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

func copyResourceHeaders(dst http.Header, src map[string][]string) {
	for k, values := range src {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if dropResponseHeaders[k] {
			continue
		}
		for _, v := range values {
			dst.Add(k, v)
		}
	}
}
