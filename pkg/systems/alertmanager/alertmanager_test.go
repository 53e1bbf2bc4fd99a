package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/alertmanager"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
)

func client(t *testing.T, base string, timeoutSeconds int) *alertmanager.Client {
	t.Helper()
	c, err := alertmanager.New(settings.Endpoint{URL: base, TimeoutSeconds: timeoutSeconds}.WithAuth(systemtest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAgainstRealAlertmanager(t *testing.T) {
	srv := harness.StartAlertmanager(t, harness.AlertmanagerOptions{})
	c := client(t, srv.URL, 10)
	st, err := c.Status(context.Background())
	if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(st.VersionInfo.Version) || st.Uptime.IsZero() ||
		st.Cluster.Status != "disabled" {
		t.Fatalf("status: %+v %v", st, err)
	}
	out, err := c.Probe()(context.Background())
	if err != nil || out.Version != st.VersionInfo.Version || c.Target() != srv.URL {
		t.Fatalf("probe: %+v %v (target %q)", out, err, c.Target())
	}
	c.Close()
	c.Close()
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Alertmanager", "alertmanager.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, timeoutSeconds).Probe()
	})
}

// silence silences alertname on a real Alertmanager for an hour.
func silence(t *testing.T, amURL, alertname string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"matchers":  []map[string]any{{"name": "alertname", "value": alertname, "isRegex": false, "isEqual": true}},
		"startsAt":  time.Now().Add(-time.Minute).Format(time.RFC3339),
		"endsAt":    time.Now().Add(time.Hour).Format(time.RFC3339),
		"createdBy": "homelab admin", "comment": "known, being fixed",
	})
	resp, err := http.Post(amURL+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("silence: %s %v", resp.Status, err)
	}
	return out.SilenceID
}

// proxy plays Grafana's datasource proxy in front of the Alertmanager at
// target: /api/datasources/proxy/uid/am/* with "Bearer <token>" only.
func proxy(t *testing.T, target, token string) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(target)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.URL.Path = "/" + strings.TrimPrefix(r.In.URL.Path, "/api/datasources/proxy/uid/am/")
		r.Out.URL.RawPath = ""
		r.Out.Header.Del("Authorization")
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer "+token:
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		case !strings.HasPrefix(r.URL.Path, "/api/datasources/proxy/uid/am/"):
			http.Error(w, `{"message":"Data source not found"}`, http.StatusNotFound)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAlertsFromRealAlertmanager(t *testing.T) {
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{})
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	alert := func(labels map[string]string) map[string]any {
		return map[string]any{"labels": labels, "annotations": map[string]string{"summary": "s"},
			"startsAt": start.Format(time.RFC3339Nano), "endsAt": start.Add(time.Hour).Format(time.RFC3339Nano),
			"generatorURL": "http://prometheus:9090/graph?g0.expr=up"}
	}
	am.Post(t, []any{
		alert(map[string]string{"alertname": "KubePodCrashLooping", "namespace": "media", "pod": "jellyfin-7d9c8b6f5-x2x9k", "severity": "warning"}),
		alert(map[string]string{"alertname": "HighErrorRate", "namespace": "billing", "app": "invoice-api", "severity": "critical"}),
		alert(map[string]string{"alertname": "Disk almost full", "grafana_folder": "Homelab", "__alert_rule_uid__": "fe2k9x7q1m0aoe"}),
	})
	silenceID := silence(t, am.URL, "HighErrorRate")

	check := func(t *testing.T, c *alertmanager.Client) {
		t.Helper()
		var list []alertmanager.Alert
		var err error
		deadline := time.Now().Add(30 * time.Second)
		for {
			list, err = c.Alerts(context.Background())
			if err == nil && len(list) == 3 && stateOf(list, "HighErrorRate") == alertmanager.StateSuppressed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alerts: %+v %v", list, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, a := range list {
			// Alertmanager's fingerprint is the one MeshWatch computes.
			if a.Fingerprint != incident.FingerprintOf(a.Labels) || !a.StartsAt.Equal(start) || a.EndsAt.Before(start) ||
				a.UpdatedAt.IsZero() || a.Annotations["summary"] != "s" || a.GeneratorURL == "" || len(a.Receivers) != 1 {
				t.Errorf("alert %+v", a)
			}
			switch a.Labels["alertname"] {
			case "HighErrorRate":
				if a.Status.State != alertmanager.StateSuppressed || len(a.Status.SilencedBy) != 1 || a.Status.SilencedBy[0] != silenceID {
					t.Errorf("silenced alert: %+v", a.Status)
				}
			default:
				if a.Status.State != alertmanager.StateActive || len(a.Status.SilencedBy) != 0 {
					t.Errorf("active alert: %+v", a.Status)
				}
			}
		}
	}
	t.Run("direct", func(t *testing.T) { check(t, client(t, am.URL, 10)) })

	t.Run("through Grafana's datasource proxy", func(t *testing.T) {
		const token = "zq-managed-sa-token"
		g := proxy(t, am.URL, token)
		s, err := settings.Load([]byte(`{"alertmanager":{"datasourceUid":"am"}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := alertmanager.New(s.WithGrafana(g.URL, token).Alertmanager)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		check(t, c)

		// A refused token: the error names the proxy URL and never the token.
		bad, _ := alertmanager.New(s.WithGrafana(g.URL, "zq-wrong-token").Alertmanager)
		t.Cleanup(bad.Close)
		_, err = bad.Alerts(context.Background())
		want := "Alertmanager at " + g.URL + "/api/datasources/proxy/uid/am/api/v2/alerts answered HTTP 401"
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "zq-") {
			t.Errorf("refused: %v\nwant prefix %s", err, want)
		}
	})
}

func stateOf(list []alertmanager.Alert, alertname string) string {
	for _, a := range list {
		if a.Labels["alertname"] == alertname {
			return a.Status.State
		}
	}
	return ""
}

func TestAlertsAsksForEveryState(t *testing.T) {
	var query url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.Query()
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	list, err := client(t, srv.URL, 10).Alerts(context.Background())
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("%v %v", list, err)
	}
	for _, k := range []string{"active", "silenced", "inhibited", "unprocessed"} {
		if query.Get(k) != "true" {
			t.Errorf("%s=%q", k, query.Get(k))
		}
	}
}

func TestAlertsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.SplitN(r.URL.Path, "/", 3)[1] {
		case "down":
			http.Error(w, "alertmanager is shutting down", http.StatusServiceUnavailable)
		case "null":
			_, _ = w.Write([]byte(`null`))
		case "object":
			_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
		case "html":
			_, _ = w.Write([]byte(`<html>login</html>`))
		}
	}))
	defer srv.Close()
	for prefix, want := range map[string]string{
		"/down":   "answered HTTP 503: alertmanager is shutting down",
		"/null":   "answered HTTP 200: answer is not the expected JSON: the answer is null, not a list of alerts",
		"/object": "answered HTTP 200: answer is not the expected JSON",
		"/html":   "answered HTTP 200: answer is not the expected JSON",
	} {
		base := srv.URL + prefix
		list, err := client(t, base, 10).Alerts(context.Background())
		if err == nil || list != nil || !strings.HasPrefix(err.Error(), "Alertmanager at "+base+"/api/v2/alerts "+want) ||
			strings.Contains(err.Error(), systemtest.Secret) || strings.Contains(err.Error(), "silenced=") {
			t.Errorf("%s: %v", prefix, err)
		}
	}
	down := srv.URL
	srv.Close()
	_, err := client(t, down, 10).Alerts(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "Alertmanager at "+down+"/api/v2/alerts is unreachable") {
		t.Errorf("unreachable: %v", err)
	}
}
