// Package settings holds MeshWatch's typed configuration: the app's jsonData
// with the defaults that match deploy/, the secrets from secureJsonData, and
// validation that names the offending field in every message.
//
// It depends on nothing from Grafana, so the CLI, the preview host and tests
// load settings the same way the plugin does.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Secure field names, as they appear in secureJsonData. Each holds either a
// bare token (sent as "Authorization: Bearer <token>") or a full header value
// with its scheme ("Basic dXNlcjpwYXNz").
const (
	SecurePrometheusAuth   = "prometheusAuth"
	SecureLokiAuth         = "lokiAuth"
	SecureTempoAuth        = "tempoAuth"
	SecureAlertmanagerAuth = "alertmanagerAuth"
	SecureOllamaAuth       = "ollamaAuth"
	SecureKubernetesToken  = "kubernetesToken"
	SecureWebhookToken     = "webhookToken"
)

// SecureKeys lists every secureJsonData key MeshWatch reads.
var SecureKeys = []string{
	SecurePrometheusAuth, SecureLokiAuth, SecureTempoAuth, SecureAlertmanagerAuth,
	SecureOllamaAuth, SecureKubernetesToken, SecureWebhookToken,
}

// Kubernetes access modes.
const (
	KubeInCluster = "in-cluster" // the pod's ServiceAccount (needs forward_host_env_vars on Grafana >= 12.4)
	KubeURL       = "url"        // an explicit API server URL with a token from secureJsonData
	KubeDisabled  = "disabled"   // no canary features
)

// Endpoint is how MeshWatch reaches one HTTP service: the service itself
// (in-cluster URL) or Grafana's datasource proxy
// (<grafana>/api/datasources/proxy/uid/<uid>) with a service-account token.
type Endpoint struct {
	URL string `json:"url"`
	// TenantID, when set, is sent in TenantHeader (X-Scope-OrgID by default) so
	// the same settings work against Mimir, multi-tenant Loki and Tempo.
	TenantID     string `json:"tenantId,omitempty"`
	TenantHeader string `json:"tenantHeader,omitempty"`
	// TimeoutSeconds bounds one request to this endpoint.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`

	auth string // from secureJsonData; never serialised
}

// Auth returns the Authorization header value, or "" when none is configured.
func (e Endpoint) Auth() string { return e.auth }

// HasAuth reports whether an Authorization value is configured.
func (e Endpoint) HasAuth() bool { return e.auth != "" }

// Timeout returns the per-request timeout.
func (e Endpoint) Timeout() time.Duration { return time.Duration(e.TimeoutSeconds) * time.Second }

// WithAuth returns a copy of e that sends auth (a token or a full header value).
func (e Endpoint) WithAuth(auth string) Endpoint {
	e.auth = authorizationValue(auth)
	return e
}

// LLM configures the Ollama model that writes root-cause analyses.
type LLM struct {
	Endpoint
	Model string `json:"model"`
	// NumCtx is the context window sent as options.num_ctx.
	NumCtx int `json:"numCtx"`
	// NumPredict caps the generated tokens (options.num_predict).
	NumPredict int `json:"numPredict"`
	// AllowExternal lets the admin point the LLM at an address outside
	// loopback, RFC 1918, the tailnet range and cluster-local names.
	AllowExternal bool `json:"allowExternal,omitempty"`
}

// Kubernetes configures access to the API server (Flagger canaries, events).
type Kubernetes struct {
	Mode string `json:"mode"`
	URL  string `json:"url,omitempty"`
	// CACert is the PEM bundle for the API server in "url" mode.
	CACert string `json:"caCert,omitempty"`
	// Namespaces limits what MeshWatch watches; empty means all it may list.
	Namespaces []string `json:"namespaces,omitempty"`

	token string
}

// Token returns the bearer token for "url" mode.
func (k Kubernetes) Token() string { return k.token }

// Storage configures the embedded database.
type Storage struct {
	// Path of the SQLite file; its directory is created when missing.
	Path string `json:"path"`
}

// Settings is the whole app configuration (jsonData plus secrets).
type Settings struct {
	Prometheus   Endpoint   `json:"prometheus"`
	Loki         Endpoint   `json:"loki"`
	Tempo        Endpoint   `json:"tempo"`
	Alertmanager Endpoint   `json:"alertmanager"`
	Ollama       LLM        `json:"ollama"`
	Kubernetes   Kubernetes `json:"kubernetes"`
	Storage      Storage    `json:"storage"`
	// EvidenceWindowMinutes is the minimum look-back of an evidence pack.
	EvidenceWindowMinutes int `json:"evidenceWindowMinutes"`

	webhookToken string
}

// WebhookToken is the shared secret alert senders must present, or "".
func (s Settings) WebhookToken() string { return s.webhookToken }

// Defaults returns the settings of the single-node stack in deploy/.
func Defaults() Settings {
	ep := func(u string) Endpoint {
		return Endpoint{URL: u, TenantHeader: "X-Scope-OrgID", TimeoutSeconds: 10}
	}
	llm := ep("http://ollama.monitoring.svc:11434")
	llm.TimeoutSeconds = 120
	return Settings{
		Prometheus:            ep("http://prometheus.monitoring.svc:9090"),
		Loki:                  ep("http://loki.monitoring.svc:3100"),
		Tempo:                 ep("http://tempo.monitoring.svc:3200"),
		Alertmanager:          ep("http://alertmanager.monitoring.svc:9093"),
		Ollama:                LLM{Endpoint: llm, Model: "phi3:mini", NumCtx: 4096, NumPredict: 768},
		Kubernetes:            Kubernetes{Mode: KubeInCluster},
		Storage:               Storage{Path: "/var/lib/grafana/plugin-data/meshwatch-mesh-app/meshwatch.db"},
		EvidenceWindowMinutes: 5,
	}
}

// FieldError is one invalid setting; Field is its jsonData path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Errors is every invalid setting found, in field order.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// Load decodes jsonData over the defaults, attaches the secrets and validates
// the result. On a validation error it still returns the decoded settings, so
// callers can report on the parts that are fine.
func Load(jsonData []byte, secure map[string]string) (Settings, error) {
	s := Defaults()
	if len(strings.TrimSpace(string(jsonData))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(jsonData)))
		if err := dec.Decode(&s); err != nil {
			return Defaults(), Errors{{Field: "jsonData", Message: describeJSONError(err)}}
		}
	}
	s.fillZeroes()
	s.Prometheus = s.Prometheus.WithAuth(secure[SecurePrometheusAuth])
	s.Loki = s.Loki.WithAuth(secure[SecureLokiAuth])
	s.Tempo = s.Tempo.WithAuth(secure[SecureTempoAuth])
	s.Alertmanager = s.Alertmanager.WithAuth(secure[SecureAlertmanagerAuth])
	s.Ollama.Endpoint = s.Ollama.Endpoint.WithAuth(secure[SecureOllamaAuth])
	s.Kubernetes.token = strings.TrimSpace(secure[SecureKubernetesToken])
	s.webhookToken = strings.TrimSpace(secure[SecureWebhookToken])
	if errs := s.Validate(); len(errs) > 0 {
		return s, errs
	}
	return s, nil
}

// fillZeroes puts defaults back where jsonData set a field to its zero value
// (a config page that saves an empty box means "use the default").
func (s *Settings) fillZeroes() {
	d := Defaults()
	fill := func(e *Endpoint, def Endpoint) {
		if strings.TrimSpace(e.URL) == "" {
			e.URL = def.URL
		}
		if e.TenantHeader == "" {
			e.TenantHeader = def.TenantHeader
		}
		if e.TimeoutSeconds == 0 {
			e.TimeoutSeconds = def.TimeoutSeconds
		}
		e.URL = strings.TrimRight(strings.TrimSpace(e.URL), "/")
	}
	fill(&s.Prometheus, d.Prometheus)
	fill(&s.Loki, d.Loki)
	fill(&s.Tempo, d.Tempo)
	fill(&s.Alertmanager, d.Alertmanager)
	fill(&s.Ollama.Endpoint, d.Ollama.Endpoint)
	if strings.TrimSpace(s.Ollama.Model) == "" {
		s.Ollama.Model = d.Ollama.Model
	}
	if s.Ollama.NumCtx == 0 {
		s.Ollama.NumCtx = d.Ollama.NumCtx
	}
	if s.Ollama.NumPredict == 0 {
		s.Ollama.NumPredict = d.Ollama.NumPredict
	}
	if s.Kubernetes.Mode == "" {
		s.Kubernetes.Mode = d.Kubernetes.Mode
	}
	s.Kubernetes.URL = strings.TrimRight(strings.TrimSpace(s.Kubernetes.URL), "/")
	if strings.TrimSpace(s.Storage.Path) == "" {
		s.Storage.Path = d.Storage.Path
	}
	if s.EvidenceWindowMinutes == 0 {
		s.EvidenceWindowMinutes = d.EvidenceWindowMinutes
	}
}

var headerToken = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)

// Validate returns every invalid field; nil when all are fine.
func (s Settings) Validate() Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	endpoint := func(name string, e Endpoint) {
		if msg := checkHTTPURL(e.URL); msg != "" {
			add(name+".url", "%q %s", shownURL(e.URL), msg)
		}
		if !headerToken.MatchString(e.TenantHeader) {
			add(name+".tenantHeader", "%q is not a valid HTTP header name", e.TenantHeader)
		}
		if strings.ContainsAny(e.TenantID, "\r\n") {
			add(name+".tenantId", "must be a single line")
		}
		if e.TimeoutSeconds < 1 || e.TimeoutSeconds > 600 {
			add(name+".timeoutSeconds", "%d is out of range: use 1 to 600 seconds", e.TimeoutSeconds)
		}
		if strings.ContainsAny(e.auth, "\r\n") {
			add(name+" secret", "the authorization value must be a single line")
		}
	}
	endpoint("prometheus", s.Prometheus)
	endpoint("loki", s.Loki)
	endpoint("tempo", s.Tempo)
	endpoint("alertmanager", s.Alertmanager)
	endpoint("ollama", s.Ollama.Endpoint)
	if strings.ContainsAny(s.Ollama.Model, " \t\r\n") {
		add("ollama.model", "%q must be an Ollama model name such as phi3:mini (no spaces)", s.Ollama.Model)
	}
	if s.Ollama.NumCtx < 512 || s.Ollama.NumCtx > 131072 {
		add("ollama.numCtx", "%d is out of range: use 512 to 131072 tokens", s.Ollama.NumCtx)
	}
	if s.Ollama.NumPredict < 16 || s.Ollama.NumPredict > s.Ollama.NumCtx {
		add("ollama.numPredict", "%d is out of range: use 16 up to numCtx (%d)", s.Ollama.NumPredict, s.Ollama.NumCtx)
	}
	switch s.Kubernetes.Mode {
	case KubeInCluster, KubeDisabled:
	case KubeURL:
		if msg := checkHTTPURL(s.Kubernetes.URL); msg != "" {
			add("kubernetes.url", "%q %s (required when mode is %q)", shownURL(s.Kubernetes.URL), msg, KubeURL)
		}
		if s.Kubernetes.token == "" {
			add("kubernetes token", "mode %q needs a ServiceAccount token in secureJsonData.%s", KubeURL, SecureKubernetesToken)
		}
		if s.Kubernetes.CACert != "" && !strings.Contains(s.Kubernetes.CACert, "-----BEGIN CERTIFICATE-----") {
			add("kubernetes.caCert", "must be a PEM certificate bundle")
		}
	default:
		add("kubernetes.mode", "%q is not one of %q, %q, %q", s.Kubernetes.Mode, KubeInCluster, KubeURL, KubeDisabled)
	}
	for i, ns := range s.Kubernetes.Namespaces {
		if !dnsLabel.MatchString(ns) {
			add(fmt.Sprintf("kubernetes.namespaces[%d]", i), "%q is not a valid namespace name", ns)
		}
	}
	if !strings.HasPrefix(s.Storage.Path, "/") && !windowsAbs.MatchString(s.Storage.Path) {
		add("storage.path", "%q must be an absolute file path", s.Storage.Path)
	}
	if s.EvidenceWindowMinutes < 1 || s.EvidenceWindowMinutes > 360 {
		add("evidenceWindowMinutes", "%d is out of range: use 1 to 360 minutes", s.EvidenceWindowMinutes)
	}
	return errs
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	windowsAbs = regexp.MustCompile(`^[A-Za-z]:[\\/]`)
)

// urlUserinfo matches the user:password@ part of URLs in free text.
var urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s"'@]+@`)

// shownURL is a configured URL as error messages may repeat it: with any
// user:password@ replaced by ***@, since those messages reach logs, the
// health report and every viewer of the alerts stream.
func shownURL(raw string) string {
	return urlUserinfo.ReplaceAllString(raw, "${1}***@")
}

func checkHTTPURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is empty: give an http:// or https:// URL"
	case err != nil:
		return "is not a URL" // url.Parse's message repeats the value, credentials and all
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with http:// or https://"
	case u.Host == "":
		return "has no host"
	case u.User != nil:
		return "must not carry credentials; put them in the secret field instead"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	}
	return ""
}

// authorizationValue turns a configured secret into an Authorization header
// value: a bare token becomes a bearer token, a value with a scheme is kept.
func authorizationValue(secret string) string {
	secret = strings.TrimSpace(secret)
	if secret == "" || strings.Contains(secret, " ") {
		return secret
	}
	return "Bearer " + secret
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q has a %s value, expected %s", typeErr.Field, typeErr.Value, typeErr.Type)
	}
	return "is not valid JSON: " + err.Error()
}

// Public is the settings as the browser may see them: every non-secret field
// plus which secrets are configured. It never carries a secret value.
type Public struct {
	Settings
	SecureConfigured map[string]bool `json:"secureConfigured"`
}

// Public returns the browser-safe view of s.
func (s Settings) Public() Public {
	return Public{Settings: s, SecureConfigured: map[string]bool{
		SecurePrometheusAuth:   s.Prometheus.HasAuth(),
		SecureLokiAuth:         s.Loki.HasAuth(),
		SecureTempoAuth:        s.Tempo.HasAuth(),
		SecureAlertmanagerAuth: s.Alertmanager.HasAuth(),
		SecureOllamaAuth:       s.Ollama.HasAuth(),
		SecureKubernetesToken:  s.Kubernetes.token != "",
		SecureWebhookToken:     s.webhookToken != "",
	}}
}
