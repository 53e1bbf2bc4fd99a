package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// loadErrs loads and returns the field errors (nil when valid).
func loadErrs(t *testing.T, jsonData string, secure map[string]string) (Settings, Errors) {
	t.Helper()
	s, err := Load([]byte(jsonData), secure)
	if err == nil {
		return s, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%s: want Errors, got %T %v", jsonData, err, err)
	}
	return s, errs
}

func fieldsOf(errs Errors) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Field
	}
	return out
}

func hasField(errs Errors, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

func TestShowURLMasksUserinfoUpToTheLastAt(t *testing.T) {
	cases := map[string]string{
		"http://prometheus:9090":                "http://prometheus:9090",
		"http://admin:pa%23ss@prometheus:9090":  "http://***@prometheus:9090",
		"http://a:b@c@host/x":                   "http://***@host/x",
		"http://a:p#s@host":                     "http://***@host",
		"http://a:p/s@host:9090/p":              "http://***@host:9090/p",
		"http://a:p s@host":                     "http://***@host",
		"http://a:p?s@host/api":                 "http://***@host/api",
		"https://u:p@h/x?token=abc":             "https://***@h/x?***",
		"http://host/x#frag":                    "http://host/x#***",
		"admin:hunter2@prometheus:9090":         "***@prometheus:9090",
		"http:/admin:hunter2@prometheus":        "***@prometheus",
		"  http://u:p@h  ":                      "http://***@h",
		"":                                      "",
		"http://token@host":                     "http://***@host",
		"HTTPS://u:p@h":                         "HTTPS://***@h",
		"http://host/path@x":                    "http://***@x", // ambiguous: errs on hiding
		"http://grafana:3000/api/datasources/p": "http://grafana:3000/api/datasources/p",
	}
	for in, want := range cases {
		if got := ShowURL(in); got != want {
			t.Errorf("ShowURL(%q) = %q, want %q", in, got, want)
		}
	}
	e := Endpoint{URL: "http://admin:pa@ss@prom:9090"}
	if got := e.DisplayURL(); got != "http://***@prom:9090" {
		t.Errorf("DisplayURL = %q", got)
	}
}

func TestShowURLIsLengthCapped(t *testing.T) {
	secret := strings.Repeat("s", 5<<20)
	if got := ShowURL("http://admin:" + secret + "@host:9090"); got != "http://***@host:9090" {
		t.Errorf("masked long password: %.80q", got)
	}
	got := ShowURL("http://host:9090/" + strings.Repeat("p", 5<<20))
	if n := utf8.RuneCountInString(got); n != MaxShown+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("cap: %d runes, suffix %q", n, got[len(got)-4:])
	}
	// A cut never happens before masking: the secret's tail cannot survive.
	got = ShowURL("http://" + strings.Repeat("u", 300) + ":tail-secret@host")
	if strings.Contains(got, "tail-secret") || strings.Contains(got, "uuu") {
		t.Errorf("long user-info leaked: %q", got)
	}
}

// Every URL field of the browser view is masked, whatever the password holds.
func TestPublicViewMasksEveryURL(t *testing.T) {
	passwords := []string{"hunter2", "pa@ss", "pa#ss", "pa/ss", "pa ss", "pa%23ss", "p?w"}
	for _, pw := range passwords {
		url := func(host string) string { return "http://admin:" + pw + "@" + host }
		jsonData, _ := json.Marshal(map[string]any{
			"prometheus":   map[string]any{"url": url("prom:9090")},
			"loki":         map[string]any{"url": url("loki:3100")},
			"tempo":        map[string]any{"url": url("tempo:3200")},
			"alertmanager": map[string]any{"url": url("am:9093")},
			"ollama":       map[string]any{"url": url("ollama:11434")},
			"kubernetes":   map[string]any{"mode": "url", "url": "https://admin:" + pw + "@10.0.0.1:6443"},
		})
		s, errs := loadErrs(t, string(jsonData), map[string]string{SecureKubernetesToken: "t"})
		for _, sec := range []string{"prometheus", "loki", "tempo", "alertmanager", "ollama", "kubernetes"} {
			if !errs.Has(sec) {
				t.Errorf("password %q: no error for %s.url: %v", pw, sec, fieldsOf(errs))
			}
		}
		out, err := json.Marshal(s.Public())
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{pw, "admin"} {
			if strings.Contains(string(out), leak) || strings.Contains(errs.Error(), leak) {
				t.Errorf("password %q: %q leaked:\npublic %s\nerrors %v", pw, leak, out, errs)
			}
		}
		if !strings.Contains(string(out), `"url":"http://***@prom:9090"`) {
			t.Errorf("password %q: masked prometheus URL missing: %s", pw, out)
		}
		if s.Prometheus.URL != url("prom:9090") {
			t.Errorf("the backend keeps the configured URL: %q", s.Prometheus.URL)
		}
	}
}

// A URL that fails to parse is never repeated; echoed URLs are capped.
func TestURLErrorsNeverEchoUnparseableOrHugeValues(t *testing.T) {
	for _, u := range []string{
		"http://admin:s3cr3t#x@prom:9090",
		"http://admin:s3cr3t/x@prom:9090/p",
		"http://admin:s3 cr3t@prom:9090",
		"http://admin:s3cr3t%zz@prom",
		"http://admin:s3cr3t\x00@prom",
		"ftp://admin:s3cr3t@prom",
	} {
		raw, _ := json.Marshal(map[string]any{"prometheus": map[string]any{"url": u}})
		_, errs := loadErrs(t, string(raw), nil)
		if !hasField(errs, "prometheus.url") {
			t.Errorf("%q: accepted or wrong field: %v", u, errs)
		}
		if strings.Contains(errs.Error(), "s3") || strings.Contains(errs.Error(), "admin") {
			t.Errorf("%q: error repeats the credentials: %v", u, errs)
		}
	}
	huge := "http://prom:9090/" + strings.Repeat("a", 5<<20) + "?q=1"
	raw, _ := json.Marshal(map[string]any{"prometheus": map[string]any{"url": huge}})
	_, errs := loadErrs(t, string(raw), nil)
	if !hasField(errs, "prometheus.url") || len(errs.Error()) > 1000 {
		t.Errorf("huge URL: %d bytes of error", len(errs.Error()))
	}
}

func TestURLPortAndHost(t *testing.T) {
	for u, bad := range map[string]bool{
		"http://prom:99999": true, "http://prom:0": true, "http://prom:65536": true,
		"http://:9090": true, "http://prom:": true, "http://[::1]:70000": true,
		"http://prom:65535": false, "http://prom:1": false, "http://[::1]:9090": false, "https://prom": false,
	} {
		raw, _ := json.Marshal(map[string]any{"loki": map[string]any{"url": u}})
		_, errs := loadErrs(t, string(raw), nil)
		if got := hasField(errs, "loki.url"); got != bad {
			t.Errorf("%s: error=%v, want %v (%v)", u, got, bad, errs)
		}
	}
}

func TestTenantHeaderMustNotBeManagedByTheClient(t *testing.T) {
	for _, h := range []string{
		"Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization", "Host", "Cookie",
		"Content-Length", "Transfer-Encoding", "transfer-encoding", "Connection", "Content-Type",
		"Accept", "User-Agent", "Keep-Alive", "TE", "Upgrade", "Trailer", "Proxy-Connection", "Accept-Encoding",
	} {
		raw, _ := json.Marshal(map[string]any{"tempo": map[string]any{"tenantHeader": h, "tenantId": "t"}})
		s, errs := loadErrs(t, string(raw), map[string]string{SecureTempoAuth: "tok"})
		if len(errs) != 1 || errs[0].Field != "tempo.tenantHeader" {
			t.Errorf("%s: want one tempo.tenantHeader error, got %v", h, errs)
		}
		if s.Tempo.Auth() != "Bearer tok" || s.Tempo.TenantID != "t" {
			t.Errorf("%s: other fields lost: %+v", h, s.Tempo)
		}
	}
	for _, h := range []string{"X-Scope-OrgID", "X-Tenant", "x-grafana-org-id"} {
		raw, _ := json.Marshal(map[string]any{"tempo": map[string]any{"tenantHeader": h}})
		if _, errs := loadErrs(t, string(raw), nil); errs != nil {
			t.Errorf("%s: refused: %v", h, errs)
		}
	}
}

// Control characters (and anything an HTTP header value cannot carry) in a
// tenant id or a secret are refused, and the secret is never repeated.
func TestHeaderValuesRefuseControlCharacters(t *testing.T) {
	for _, c := range []string{"\x00", "\x7f", "\x01", "\x1b", "\r", "\n", "\x1f"} {
		raw, _ := json.Marshal(map[string]any{"loki": map[string]any{"tenantId": "team" + c + "a"}})
		if _, errs := loadErrs(t, string(raw), nil); !hasField(errs, "loki.tenantId") {
			t.Errorf("tenantId with %q: %v", c, errs)
		}
		secure := map[string]string{}
		for _, k := range SecureKeys {
			secure[k] = "zq-secret" + c + "tail"
		}
		_, errs := loadErrs(t, `{"kubernetes":{"mode":"url","url":"https://k:6443"}}`, secure)
		for _, f := range []string{"prometheus secret", "loki secret", "tempo secret", "alertmanager secret",
			"ollama secret", "kubernetes token"} {
			if !hasField(errs, f) {
				t.Errorf("secret with %q: no %s error in %v", c, f, fieldsOf(errs))
			}
		}
		if strings.Contains(errs.Error(), "zq-secret") || strings.Contains(errs.Error(), "tail") {
			t.Errorf("secret repeated: %v", errs)
		}
	}
	// Tab, spaces inside and obs-text are valid field-value characters.
	raw, _ := json.Marshal(map[string]any{"loki": map[string]any{"tenantId": "team\ta é"}})
	if _, errs := loadErrs(t, string(raw), map[string]string{SecureLokiAuth: "Basic dTpw"}); errs != nil {
		t.Errorf("valid header values refused: %v", errs)
	}
}

func TestStoragePathMustBeCleanAndAbsolute(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the cases are written for a Unix host")
	}
	for p, bad := range map[string]bool{
		"/var/lib/grafana/plugin-data/meshwatch-mesh-app/../../../../etc/cron.d/x": true,
		"/var/lib/grafana/../x.db": true,
		"/var/lib/./x.db":          true,
		"/var//lib/x.db":           true,
		"/var/lib/x.db/":           true,
		"C:/x.db":                  true,
		`C:\x.db`:                  true,
		"data/mw.db":               true,
		"../mw.db":                 true,
		"/var/lib/x\x00.db":        true,
		"/var/lib/grafana/mw.db":   false,
		"/data/..mw.db":            false,
		"/data/mw..db":             false,
	} {
		raw, _ := json.Marshal(map[string]any{"storage": map[string]any{"path": p}})
		_, errs := loadErrs(t, string(raw), nil)
		if got := hasField(errs, "storage.path"); got != bad {
			t.Errorf("%q: error=%v, want %v (%v)", p, got, bad, errs)
		}
	}
}

func TestUnknownFlatAndTrailingKeysAreReported(t *testing.T) {
	cases := []struct {
		json, field, hint string
	}{
		{`{"prometheus.url":"http://p:9090"}`, "prometheus.url", `{"prometheus": {"url": …}}`},
		{`{"ollama.model":"x"}`, "ollama.model", `{"ollama": {"model": …}}`},
		{`{"Prometheus":{"url":"http://p:9090"}}`, "Prometheus", `did you mean "prometheus"`},
		{`{"prometheus":{"URL":"http://p:9090"}}`, "prometheus.URL", `did you mean "url"`},
		{`{"prometheus":{"password":"hunter2"}}`, "prometheus.password", "url, tenantId"},
		{`{"prometheusAuth":"hunter2"}`, "prometheusAuth", "secureJsonData"},
		{`{"colour":"blue"}`, "colour", "unknown key"},
		{`{"":1}`, `""`, "unknown key"},
		{`{} {}`, "jsonData", "after the JSON object"},
		{`{"loki":{"url":"http://l:3100"}} trailing`, "jsonData", "after the JSON object"},
		{`[]`, "jsonData", "must be a JSON object"},
		{`"x"`, "jsonData", "must be a JSON object"},
		{`{"storage":"/x.db"}`, "storage", "must be a JSON object"},
	}
	for _, c := range cases {
		_, errs := loadErrs(t, c.json, nil)
		found := false
		for _, e := range errs {
			if e.Field == c.field && strings.Contains(e.Message, c.hint) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s error with %q, got %v", c.json, c.field, c.hint, errs)
		}
		if strings.Contains(errs.Error(), "hunter2") {
			t.Errorf("%s: unknown value repeated: %v", c.json, errs)
		}
	}
	// The first object is still read when data follows it.
	s, _ := loadErrs(t, `{"loki":{"url":"http://l:3100"}} {"loki":{"url":"http://x"}}`, nil)
	if s.Loki.URL != "http://l:3100" {
		t.Errorf("first object not read: %s", s.Loki.URL)
	}
	// Hundreds of unknown keys make a bounded report.
	var b strings.Builder
	b.WriteString("{")
	for i := range 500 {
		fmt.Fprintf(&b, `"k%03d":1,`, i)
	}
	b.WriteString(`"evidenceWindowMinutes":7}`)
	s, errs := loadErrs(t, b.String(), nil)
	if len(errs) != maxUnknownKeys || !strings.Contains(errs[len(errs)-1].Message, "480 more") || s.EvidenceWindowMinutes != 7 {
		t.Errorf("%d errors (%.300v), window %d", len(errs), errs, s.EvidenceWindowMinutes)
	}
}

// Every key that the config page, the provisioning files and deploy/ write
// is known.
func TestKeysTheFrontendAndProvisioningWriteAreKnown(t *testing.T) {
	// Every key of AppSettings in src/api/types.ts.
	all := `{
		"prometheus": {"url": "http://p:9090", "tenantId": "a", "tenantHeader": "X-Scope-OrgID", "timeoutSeconds": 5},
		"loki": {"url": "http://l:3100", "datasourceUid": "logs", "tenantId": "", "tenantHeader": "", "timeoutSeconds": 0},
		"tempo": {"url": ""}, "alertmanager": {},
		"ollama": {"url": "http://o:11434", "tenantId": "", "tenantHeader": "", "timeoutSeconds": 60,
			"model": "phi3:mini", "numCtx": 4096, "numPredict": 768, "allowExternal": false},
		"kubernetes": {"mode": "in-cluster", "url": "", "caCert": "", "namespaces": ["shop", "default"]},
		"storage": {"path": ""},
		"evidenceWindowMinutes": 5
	}`
	if _, errs := loadErrs(t, all, nil); errs != nil {
		t.Errorf("config page keys: %v", errs)
	}
	for _, file := range []string{
		"../../provisioning/plugins/apps.yaml",
		"../../deploy/base/monitoring/grafana/provisioning/meshwatch-app.yaml",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Apps []struct {
				JSONData json.RawMessage `json:"jsonData"`
			} `json:"apps"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Apps) == 0 {
			t.Fatalf("%s: %v", file, err)
		}
		for _, app := range doc.Apps {
			if _, errs := loadErrs(t, string(app.JSONData), map[string]string{SecureGrafanaToken: "glsa_w"}); errs != nil {
				t.Errorf("%s: %v", file, errs)
			}
		}
	}
}

// A wrong-typed field keeps its default; every other field and every secret
// is kept.
func TestWrongTypedFieldCostsNothingElse(t *testing.T) {
	secrets := map[string]string{}
	for _, k := range SecureKeys {
		secrets[k] = "tok-" + k
	}
	s, errs := loadErrs(t, `{
		"prometheus": {"url": 42, "tenantId": "team-a"},
		"loki": {"url": "http://loki.example:3100", "timeoutSeconds": "30"},
		"ollama": {"allowExternal": "yes", "model": "llama3.2:3b", "numCtx": 1e99},
		"kubernetes": {"mode": "url", "url": "https://k:6443", "namespaces": ["shop", 7, "payments"]},
		"storage": {"path": ["x"]},
		"evidenceWindowMinutes": "10"
	}`, secrets)
	want := []string{"prometheus.url", "loki.timeoutSeconds", "ollama.numCtx", "ollama.allowExternal",
		"kubernetes.namespaces[1]", "storage.path", "evidenceWindowMinutes"}
	if strings.Join(fieldsOf(errs), ",") != strings.Join(want, ",") {
		t.Errorf("errors %v, want %v", fieldsOf(errs), want)
	}
	d := Defaults()
	if s.Prometheus.URL != d.Prometheus.URL || s.Prometheus.TenantID != "team-a" ||
		s.Loki.URL != "http://loki.example:3100" || s.Loki.TimeoutSeconds != d.Loki.TimeoutSeconds ||
		s.Ollama.AllowExternal || s.Ollama.Model != "llama3.2:3b" || s.Ollama.NumCtx != d.Ollama.NumCtx ||
		strings.Join(s.Kubernetes.Namespaces, ",") != "shop,payments" || s.Storage.Path != d.Storage.Path ||
		s.EvidenceWindowMinutes != d.EvidenceWindowMinutes {
		t.Errorf("fields: %+v", s.Public())
	}
	if s.Prometheus.Auth() != "Bearer tok-prometheusAuth" || s.Kubernetes.Token() != "tok-kubernetesToken" {
		t.Error("secrets lost")
	}
	// Not JSON at all: the defaults, but the secrets are still there.
	s, errs = loadErrs(t, `{"prometheus": {"url": "http://admin:x"y@p"}}`, secrets)
	if len(errs) != 1 || errs[0].Field != "jsonData" || strings.Contains(errs.Error(), "y@p") ||
		s.Prometheus.Auth() != "Bearer tok-prometheusAuth" {
		t.Errorf("syntax error: %v, auth %q", errs, s.Prometheus.Auth())
	}
}

func TestErrorsSection(t *testing.T) {
	errs := Errors{
		{Field: "prometheus.url", Message: "x"},
		{Field: "prometheus secret", Message: "x"},
		{Field: "kubernetes.namespaces[0]", Message: "x"},
		{Field: "Loki", Message: "unknown key"},
		{Field: "evidenceWindowMinutes", Message: "x"},
	}
	if got := errs.Section("prometheus"); len(got) != 2 {
		t.Errorf("prometheus: %v", got)
	}
	if !errs.Has("kubernetes") || !errs.Has("loki") || !errs.Has("evidenceWindowMinutes") {
		t.Error("kubernetes, loki (case-insensitive) and evidenceWindowMinutes have errors")
	}
	if errs.Has("tempo") || errs.Has("prom") || errs.Section("tempo") != nil {
		t.Error("tempo and a prefix of prometheus have no errors")
	}
	withDoc := append(errs, FieldError{Field: "jsonData", Message: "is not valid JSON"})
	if got := withDoc.Section("tempo"); len(got) != 1 || got[0].Field != "jsonData" {
		t.Errorf("jsonData errors concern every section: %v", got)
	}
	var none Errors
	if none.Has("prometheus") {
		t.Error("nil Errors has nothing")
	}
	// From Load: a flat key concerns its section.
	_, loaded := loadErrs(t, `{"prometheus.url":"http://p:9090","tempo":{"tenantHeader":"Host"}}`, nil)
	if !loaded.Has("prometheus") || !loaded.Has("tempo") || loaded.Has("loki") {
		t.Errorf("sections from Load: %v", loaded)
	}
}

// Messages never repeat more than MaxShown characters of a value.
func TestMessagesAreLengthCapped(t *testing.T) {
	big := strings.Repeat("é\x01", 1<<14)
	raw, _ := json.Marshal(map[string]any{
		"prometheus": map[string]any{"tenantHeader": big},
		"ollama":     map[string]any{"model": big},
		"kubernetes": map[string]any{"mode": big, "namespaces": []string{big, big}},
		"storage":    map[string]any{"path": "/" + big},
		big:          1,
	})
	_, errs := loadErrs(t, string(raw), nil)
	if len(errs) < 6 {
		t.Fatalf("errors: %v", fieldsOf(errs))
	}
	for _, e := range errs {
		if len(e.Message) > 2*MaxShown+200 || len(e.Field) > 200 {
			t.Errorf("%.60s: %d-byte message", e.Field, len(e.Message))
		}
	}
}
