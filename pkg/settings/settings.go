// Package settings holds MeshWatch's typed configuration: the app's jsonData
// with the defaults that match deploy/, the secrets from secureJsonData, and
// validation that names the offending field in every message.
//
// It depends on nothing from Grafana, so the CLI, the preview host and tests
// load settings the same way the plugin does.
package settings

import (
	"fmt"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Secure field names, as they appear in secureJsonData. Each holds either a
// bare token (sent as "Authorization: Bearer <token>") or a full header value
// with its scheme ("Basic dXNlcjpwYXNz"). The constants are key names, not
// secrets.
const (
	SecurePrometheusAuth   = "prometheusAuth"
	SecureLokiAuth         = "lokiAuth"
	SecureTempoAuth        = "tempoAuth"
	SecureAlertmanagerAuth = "alertmanagerAuth"
	SecureOllamaAuth       = "ollamaAuth"
	SecureKubernetesToken  = "kubernetesToken" // #nosec G101 -- the secureJsonData key name, not a credential
	// SecureGrafanaToken is a Grafana service-account token for Grafana's
	// datasource proxy, used when Grafana gives the plugin no managed
	// service-account token.
	SecureGrafanaToken = "grafanaToken" // #nosec G101 -- a secureJsonData key name, not a credential
	// SecureStorageDSN is the PostgreSQL DSN (URL or key=value pairs, with
	// its password) when storage.kind is "postgres".
	SecureStorageDSN = "storageDSN" // #nosec G101 -- a secureJsonData key name, not a credential
)

// SecureKeys lists every secureJsonData key MeshWatch reads.
var SecureKeys = []string{
	SecurePrometheusAuth, SecureLokiAuth, SecureTempoAuth, SecureAlertmanagerAuth,
	SecureOllamaAuth, SecureKubernetesToken, SecureGrafanaToken, SecureStorageDSN,
}

// Storage kinds.
const (
	// StoreSQLite is the embedded database, one file per Grafana (the
	// default).
	StoreSQLite = "sqlite"
	// StorePostgres is a shared PostgreSQL, for Grafana with several
	// replicas; the DSN is in secureJsonData.storageDSN.
	StorePostgres = "postgres"
)

// Kubernetes access modes.
const (
	KubeInCluster = "in-cluster" // the pod's ServiceAccount (needs forward_host_env_vars on Grafana >= 12.4)
	KubeURL       = "url"        // an explicit API server URL with a token from secureJsonData
	KubeDisabled  = "disabled"   // no canary features
)

// Endpoint is how MeshWatch reaches one HTTP service: a Grafana datasource
// through Grafana's datasource proxy (DatasourceUID), or the service itself
// at URL ("Advanced: direct URL").
type Endpoint struct {
	// URL is the service itself; it is ignored while DatasourceUID is set.
	URL string `json:"url"`
	// DatasourceUID, when set (Prometheus, Loki, Tempo, Alertmanager), is the
	// uid of the Grafana datasource MeshWatch reaches through Grafana's
	// datasource proxy (<appURL>/api/datasources/proxy/uid/<uid>), with the
	// plugin's managed service account or the grafanaToken secret. Grafana
	// adds the datasource's own auth, TLS and headers; url, the tenant and
	// the endpoint's secret are then not used.
	DatasourceUID string `json:"datasourceUid,omitempty"`
	// TenantID, when set, is sent in TenantHeader (X-Scope-OrgID by default) so
	// the same settings work against Mimir, multi-tenant Loki and Tempo.
	TenantID     string `json:"tenantId,omitempty"`
	TenantHeader string `json:"tenantHeader,omitempty"`
	// TimeoutSeconds bounds one request to this endpoint.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`

	auth string // from secureJsonData; never serialised

	// What Grafana's datasource proxy needs (see WithGrafana); never
	// serialised.
	appURL, managedToken, grafanaToken string
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
	Endpoint `tstype:",extends"`
	Model    string `json:"model"`
	// NumCtx is the context window sent as options.num_ctx.
	NumCtx int `json:"numCtx"`
	// NumPredict caps the generated tokens (options.num_predict).
	NumPredict int `json:"numPredict"`
	// AllowExternal lets the admin point the LLM at an address outside
	// loopback, RFC 1918, the tailnet range and cluster-local names.
	AllowExternal bool `json:"allowExternal,omitempty"`
	// Disabled: no LLM is configured. MeshWatch writes no root-cause
	// write-ups and explains no panels; its deterministic findings and
	// panel summaries stand alone, and the pages say so.
	Disabled bool `json:"disabled,omitempty"`
}

// Kubernetes configures access to the API server (Flagger canaries, events).
type Kubernetes struct {
	Mode string `json:"mode" tstype:"Kube"`
	URL  string `json:"url,omitempty"`
	// CACert is the PEM bundle for the API server in "url" mode.
	CACert string `json:"caCert,omitempty"`
	// Namespaces limits what MeshWatch watches; empty means all it may list.
	Namespaces []string `json:"namespaces,omitempty"`

	token string
}

// Token returns the bearer token for "url" mode.
func (k Kubernetes) Token() string { return k.token }

// Storage configures the incident database.
type Storage struct {
	// Kind is "sqlite" (the default: the embedded file at Path) or
	// "postgres" (a PostgreSQL shared by Grafana's replicas; its DSN is in
	// secureJsonData.storageDSN).
	Kind string `json:"kind" tstype:"Store"`
	// Path of the SQLite file; its directory is created when missing.
	Path string `json:"path"`
	// RetentionDays is how long a resolved incident is kept.
	RetentionDays int `json:"retentionDays"`

	dsn string // from secureJsonData; never serialised
}

// DSN returns the PostgreSQL DSN (a secret: never log it).
func (s Storage) DSN() string { return s.dsn }

// WithDSN returns s with the PostgreSQL DSN set.
func (s Storage) WithDSN(dsn string) Storage {
	s.dsn = strings.TrimSpace(dsn)
	return s
}

// SignOff configures who may decide on AI suggestions.
type SignOff struct {
	// Role is the least Grafana org role that may approve, reject, edit and
	// execute a suggestion and open or close a canary gate: "Editor" (the
	// default) or "Admin". Service accounts (the intake's) never may.
	Role string `json:"role"`
}

// Incidents configures how alerts become incidents.
type Incidents struct {
	// WorkloadLabels are the labels an alert's workload is read from, first
	// found wins; empty means MeshWatch's default list (workload,
	// destination_workload, deployment, statefulset, daemonset, pod, app,
	// service).
	WorkloadLabels []string `json:"workloadLabels,omitempty"`
	// ReconcileSeconds is how often a running instance compares its
	// incidents with Alertmanager's active alerts (Prometheus's when no
	// Alertmanager is configured), so an alert missed while Grafana or the
	// plugin was down is caught up.
	ReconcileSeconds int `json:"reconcileSeconds"`
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
	Incidents    Incidents  `json:"incidents"`
	SignOff      SignOff    `json:"signOff"`
	// EvidenceWindowMinutes is the minimum look-back of an evidence pack.
	EvidenceWindowMinutes int `json:"evidenceWindowMinutes"`

	grafanaToken string
}

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
		Storage:               Storage{Kind: StoreSQLite, Path: "/var/lib/grafana/plugin-data/meshwatch-mesh-app/meshwatch.db", RetentionDays: 90},
		Incidents:             Incidents{ReconcileSeconds: 60},
		SignOff:               SignOff{Role: "Editor"},
		EvidenceWindowMinutes: 5,
	}
}

// FieldError is one invalid setting; Field is its jsonData path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Errors is every invalid setting found: problems decoding jsonData first
// (Field "jsonData" for the document as a whole, else the field's path),
// then invalid values, each in field order. No message repeats a secret,
// URL credentials or more than MaxShown characters of a value.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// Section returns the errors that concern one top-level section of the
// settings, named as in jsonData ("prometheus", "loki", "tempo",
// "alertmanager", "ollama", "kubernetes", "storage", "incidents",
// "evidenceWindowMinutes"). An error concerns the section its
// Field starts with, up to the first '.', ' ' or '[' (so "prometheus.url",
// "prometheus secret" and an unknown key "prometheus.url" all concern
// "prometheus"), compared without regard to case; and every "jsonData" error
// (the document is not JSON, not an object, or has trailing data) concerns
// every section. The result is nil when there is none.
//
// A caller must not build a client from a section that has errors: its
// settings are not what the admin wrote (a field of the wrong type fell back
// to its default) or are unsafe to use.
func (es Errors) Section(name string) Errors {
	var out Errors
	for _, e := range es {
		if e.Field == "jsonData" || strings.EqualFold(sectionOf(e.Field), name) {
			out = append(out, e)
		}
	}
	return out
}

// Has reports whether any error concerns section (see Section).
func (es Errors) Has(section string) bool { return len(es.Section(section)) > 0 }

func sectionOf(field string) string {
	if i := strings.IndexAny(field, ". ["); i >= 0 {
		return field[:i]
	}
	return field
}

// Load decodes jsonData over the defaults, attaches the secrets and validates
// the result. The error, when not nil, is an Errors naming every bad field.
//
// Load decodes field by field: a value of the wrong type keeps its default
// (and is reported), unknown keys are reported, and the other fields and all
// secrets are kept whatever is wrong. So on an error Load still returns the
// settings, and callers use Errors.Section to tell which parts are fine.
func Load(jsonData []byte, secure map[string]string) (Settings, error) {
	s := Defaults()
	errs := decodeJSONData(jsonData, &s)
	s.fillZeroes()
	s.Prometheus = s.Prometheus.WithAuth(secure[SecurePrometheusAuth])
	s.Loki = s.Loki.WithAuth(secure[SecureLokiAuth])
	s.Tempo = s.Tempo.WithAuth(secure[SecureTempoAuth])
	s.Alertmanager = s.Alertmanager.WithAuth(secure[SecureAlertmanagerAuth])
	s.Ollama.Endpoint = s.Ollama.Endpoint.WithAuth(secure[SecureOllamaAuth])
	s.Kubernetes.token = strings.TrimSpace(secure[SecureKubernetesToken])
	s.grafanaToken = strings.TrimSpace(secure[SecureGrafanaToken])
	s.Storage = s.Storage.WithDSN(secure[SecureStorageDSN])
	for _, e := range s.proxied() {
		e.grafanaToken = s.grafanaToken
	}
	errs = append(errs, s.Validate()...)
	if len(errs) > 0 {
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
	if strings.TrimSpace(s.Storage.Kind) == "" {
		s.Storage.Kind = d.Storage.Kind
	}
	if s.EvidenceWindowMinutes == 0 {
		s.EvidenceWindowMinutes = d.EvidenceWindowMinutes
	}
	if s.Storage.RetentionDays == 0 {
		s.Storage.RetentionDays = d.Storage.RetentionDays
	}
	if s.Incidents.ReconcileSeconds == 0 {
		s.Incidents.ReconcileSeconds = d.Incidents.ReconcileSeconds
	}
	if strings.TrimSpace(s.SignOff.Role) == "" {
		s.SignOff.Role = d.SignOff.Role
	}
}

var headerToken = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)

// reservedHeaders are the request headers that Go's HTTP client or
// MeshWatch's own request code set (Authorization carries the secret): a
// tenant header with one of these names would overwrite or confuse them.
var reservedHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Authorization": true, "Connection": true,
	"Content-Encoding": true, "Content-Length": true, "Content-Type": true, "Cookie": true,
	"Expect": true, "Host": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Set-Cookie": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "User-Agent": true,
}

// maxNamespaceErrors is how many bad namespace names are reported one by one.
const maxNamespaceErrors = 10

// Validate returns every invalid field; nil when all are fine. No message
// repeats a secret or URL credentials, and none repeats more than MaxShown
// characters of a value.
func (s Settings) Validate() Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: shownURL(fmt.Sprintf(format, args...))})
	}
	endpoint := func(name string, e Endpoint) {
		switch {
		case e.DatasourceUID != "" && name == "ollama":
			add(name+".datasourceUid", "Ollama is not a Grafana datasource: use ollama.url")
		case e.DatasourceUID != "" && !datasourceUID.MatchString(e.DatasourceUID):
			add(name+".datasourceUid", "%s is not a Grafana datasource uid: use 1 to 40 letters, digits, '-' or '_' (the datasource's uid in Connections > Data sources)",
				quoted(e.DatasourceUID))
		}
		if e.DatasourceUID == "" {
			if msg := checkHTTPURL(e.URL); msg != "" {
				add(name+".url", "%s", msg)
			}
		}
		switch {
		case !headerToken.MatchString(e.TenantHeader):
			add(name+".tenantHeader", "%s is not a valid HTTP header name", quoted(e.TenantHeader))
		case reservedHeaders[textproto.CanonicalMIMEHeaderKey(e.TenantHeader)]:
			add(name+".tenantHeader", "%s is set by MeshWatch or Go's HTTP client and cannot carry the tenant; use a header of its own such as X-Scope-OrgID",
				quoted(textproto.CanonicalMIMEHeaderKey(e.TenantHeader)))
		}
		if p := headerValueProblem(e.TenantID); p != "" {
			add(name+".tenantId", "must be a valid HTTP header value: %s", p)
		}
		if e.TimeoutSeconds < 1 || e.TimeoutSeconds > 600 {
			add(name+".timeoutSeconds", "%d is out of range: use 1 to 600 seconds", e.TimeoutSeconds)
		}
		if p := headerValueProblem(e.auth); p == "it spans more than one line" {
			add(name+" secret", "the authorization value must be a single line")
		} else if p != "" {
			add(name+" secret", "the authorization value cannot be sent as an HTTP header: %s", p)
		}
	}
	endpoint("prometheus", s.Prometheus)
	endpoint("loki", s.Loki)
	endpoint("tempo", s.Tempo)
	endpoint("alertmanager", s.Alertmanager)
	endpoint("ollama", s.Ollama.Endpoint)
	if strings.ContainsAny(s.Ollama.Model, " \t\r\n") || headerValueProblem(s.Ollama.Model) != "" {
		add("ollama.model", "%s must be an Ollama model name such as phi3:mini (no spaces)", quoted(s.Ollama.Model))
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
			add("kubernetes.url", "%s (required when mode is %q)", msg, KubeURL)
		}
		if s.Kubernetes.token == "" {
			add("kubernetes token", "mode %q needs a ServiceAccount token in secureJsonData.%s", KubeURL, SecureKubernetesToken)
		}
		if s.Kubernetes.CACert != "" && !strings.Contains(s.Kubernetes.CACert, "-----BEGIN CERTIFICATE-----") {
			add("kubernetes.caCert", "must be a PEM certificate bundle")
		}
	default:
		add("kubernetes.mode", "%s is not one of %q, %q, %q", quoted(s.Kubernetes.Mode), KubeInCluster, KubeURL, KubeDisabled)
	}
	if p := headerValueProblem(s.Kubernetes.token); p != "" {
		add("kubernetes token", "the ServiceAccount token cannot be sent as an HTTP header: %s", p)
	}
	bad := 0
	for i, ns := range s.Kubernetes.Namespaces {
		if dnsLabel.MatchString(ns) {
			continue
		}
		if bad++; bad <= maxNamespaceErrors {
			add(fmt.Sprintf("kubernetes.namespaces[%d]", i), "%s is not a valid namespace name", quoted(ns))
		}
	}
	if bad > maxNamespaceErrors {
		add("kubernetes.namespaces", "%d more names are not valid namespace names", bad-maxNamespaceErrors)
	}
	switch s.Storage.Kind {
	case StoreSQLite:
		if msg := checkStoragePath(s.Storage.Path); msg != "" {
			add("storage.path", "%s", msg)
		}
	case StorePostgres:
		if msg := checkDSN(s.Storage.dsn); msg != "" {
			add("storage dsn", "%s", msg)
		}
	default:
		add("storage.kind", "%s is not one of %q, %q", quoted(s.Storage.Kind), StoreSQLite, StorePostgres)
	}
	if s.EvidenceWindowMinutes < 1 || s.EvidenceWindowMinutes > 360 {
		add("evidenceWindowMinutes", "%d is out of range: use 1 to 360 minutes", s.EvidenceWindowMinutes)
	}
	if s.Storage.RetentionDays < 1 || s.Storage.RetentionDays > 3650 {
		add("storage.retentionDays", "%d is out of range: use 1 to 3650 days", s.Storage.RetentionDays)
	}
	if s.Incidents.ReconcileSeconds < 10 || s.Incidents.ReconcileSeconds > 3600 {
		add("incidents.reconcileSeconds", "%d is out of range: use 10 to 3600 seconds", s.Incidents.ReconcileSeconds)
	}
	if s.SignOff.Role != "Editor" && s.SignOff.Role != "Admin" {
		add("signOff.role", "%s is not a role that may sign off: use \"Editor\" or \"Admin\"", quoted(s.SignOff.Role))
	}
	for i, l := range s.Incidents.WorkloadLabels {
		if strings.TrimSpace(l) == "" || len(l) > 128 {
			add(fmt.Sprintf("incidents.workloadLabels[%d]", i), "%s is not a label name", quoted(l))
		}
	}
	if p := headerValueProblem(s.grafanaToken); p != "" {
		add("grafanaToken", "the Grafana service-account token cannot be sent as an HTTP header: %s", p)
	}
	return errs
}

// datasourceUID is Grafana's rule for a datasource uid.
var datasourceUID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// proxied is the endpoints that can be a Grafana datasource.
func (s *Settings) proxied() []*Endpoint {
	return []*Endpoint{&s.Prometheus, &s.Loki, &s.Tempo, &s.Alertmanager}
}

// WithGrafana returns s with what Grafana gives the instance for its
// datasource proxy: its app URL (GF_APP_URL; "" when Grafana sent none)
// and the plugin's managed service-account token ("" when Grafana provides
// none). The endpoints with a DatasourceUID use them.
func (s Settings) WithGrafana(appURL, managedToken string) Settings {
	for _, e := range s.proxied() {
		e.appURL = strings.TrimRight(strings.TrimSpace(appURL), "/")
		e.managedToken = strings.TrimSpace(managedToken)
	}
	return s
}

// ViaGrafana reports whether e is reached through Grafana's datasource
// proxy (DatasourceUID is set).
func (e Endpoint) ViaGrafana() bool { return e.DatasourceUID != "" }

// GrafanaAppURL is Grafana's app URL as WithGrafana gave it, or "".
func (e Endpoint) GrafanaAppURL() string { return e.appURL }

// ProxyURL is the datasource-proxy base URL of e
// (<appURL>/api/datasources/proxy/uid/<uid>), or "" when e is not via
// Grafana or Grafana gave no app URL.
func (e Endpoint) ProxyURL() string {
	if e.DatasourceUID == "" || e.appURL == "" {
		return ""
	}
	return e.appURL + "/api/datasources/proxy/uid/" + url.PathEscape(e.DatasourceUID)
}

// Credential sources for Grafana's datasource proxy (see ProxyAuth).
const (
	ProxyByManagedAccount = "managed service account"
	ProxyByGrafanaToken   = SecureGrafanaToken
)

// ProxyAuth is the Authorization value for Grafana's datasource proxy and
// where it comes from: the plugin's managed service-account token
// (ProxyByManagedAccount) first, else the grafanaToken secret
// (ProxyByGrafanaToken). The value is "" when there is none, or when the
// grafanaToken it would use cannot be an HTTP header (by is then still
// ProxyByGrafanaToken); by is "" when there is no token at all.
func (e Endpoint) ProxyAuth() (value, by string) {
	switch {
	case e.managedToken != "" && headerValueProblem(e.managedToken) == "":
		return "Bearer " + e.managedToken, ProxyByManagedAccount
	case e.grafanaToken == "":
		return "", ""
	case headerValueProblem(e.grafanaToken) != "":
		return "", ProxyByGrafanaToken
	}
	return authorizationValue(e.grafanaToken), ProxyByGrafanaToken
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// checkHTTPURL says what is wrong with a configured base URL, starting with
// the URL as ShowURL renders it, or returns "" when it is fine. A value that
// does not parse is never repeated, not even masked.
func checkHTTPURL(raw string) string {
	if raw == "" {
		return "is empty: give an http:// or https:// URL"
	}
	if headerValueProblem(raw) != "" || strings.ContainsAny(raw, " \t") {
		return "is not a URL: it contains white space or a control character"
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's message repeats the value, credentials and all.
		if strings.Contains(raw, "@") {
			return "is not a URL; if it carries user:password@, remove them and put the credentials in the secret field"
		}
		return "is not a URL"
	}
	shown := quoted(ShowURL(raw))
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return shown + " must start with http:// or https://"
	case u.User != nil:
		return shown + " must not carry credentials; put them in the secret field instead"
	case u.Hostname() == "":
		return shown + " has no host"
	case strings.HasSuffix(u.Host, ":"):
		return shown + " has an empty port"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return shown + " must not have a query or fragment"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return shown + " has a port out of range: use 1 to 65535"
		}
	}
	return ""
}

// checkDSN says what is wrong with a PostgreSQL DSN, or "", without ever
// repeating it (it holds a password). Its syntax is the driver's to judge
// when the store opens (the health check says why it cannot): the config
// page validates with a placeholder for a DSN it cannot read back.
func checkDSN(dsn string) string {
	switch {
	case dsn == "":
		return fmt.Sprintf("kind %q needs the PostgreSQL DSN in secureJsonData.%s (postgres://user:password@host:5432/database)", StorePostgres, SecureStorageDSN)
	case strings.ContainsFunc(dsn, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "the PostgreSQL DSN contains control characters"
	default:
		return ""
	}
}

// checkStoragePath says what is wrong with storage.path, or "".
func checkStoragePath(p string) string {
	if headerValueProblem(p) != "" {
		return "must be a file path without control characters"
	}
	if !isAbsPath(p) {
		return quoted(p) + " must be an absolute file path"
	}
	for _, elem := range strings.FieldsFunc(p, isPathSeparator) {
		if elem == ".." {
			return quoted(p) + ` must not contain ".." elements`
		}
	}
	if clean := filepath.Clean(p); clean != filepath.FromSlash(p) {
		return fmt.Sprintf("%s is not a clean path: use %s", quoted(p), quoted(clean))
	}
	return ""
}

// isAbsPath reports whether p is absolute on the OS the plugin runs on. On
// Windows a rooted path without a drive ("/var/lib/…", the default) is also
// accepted: Windows resolves it on Grafana's current drive, never relative to
// the working directory.
func isAbsPath(p string) bool {
	if filepath.IsAbs(p) {
		return true
	}
	return runtime.GOOS == "windows" && len(p) > 0 && isPathSeparator(rune(p[0])) &&
		(len(p) == 1 || !isPathSeparator(rune(p[1])))
}

func isPathSeparator(r rune) bool {
	return r < 0x80 && os.IsPathSeparator(uint8(r))
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

// Public is the settings as the browser may see them: every non-secret field
// plus which secrets are configured. It never carries a secret value, and its
// URLs are masked as by ShowURL (without the length cap): no user-info, no
// query.
type Public struct {
	Settings         `tstype:",extends"`
	SecureConfigured map[string]bool `json:"secureConfigured"`
}

// Public returns the browser-safe view of s.
func (s Settings) Public() Public {
	v := s
	for _, e := range []*Endpoint{&v.Prometheus, &v.Loki, &v.Tempo, &v.Alertmanager, &v.Ollama.Endpoint} {
		e.URL = maskURL(e.URL)
		e.auth, e.appURL, e.managedToken, e.grafanaToken = "", "", "", ""
	}
	v.Kubernetes.URL = maskURL(v.Kubernetes.URL)
	v.Kubernetes.token = ""
	v.grafanaToken = ""
	v.Storage.dsn = ""
	return Public{Settings: v, SecureConfigured: map[string]bool{
		SecurePrometheusAuth:   s.Prometheus.HasAuth(),
		SecureLokiAuth:         s.Loki.HasAuth(),
		SecureTempoAuth:        s.Tempo.HasAuth(),
		SecureAlertmanagerAuth: s.Alertmanager.HasAuth(),
		SecureOllamaAuth:       s.Ollama.HasAuth(),
		SecureKubernetesToken:  s.Kubernetes.token != "",
		SecureGrafanaToken:     s.grafanaToken != "",
		SecureStorageDSN:       s.Storage.dsn != "",
	}}
}
