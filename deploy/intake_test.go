package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// How alerts reach MeshWatch: Grafana authenticates the plugin's resource
// routes and strips the Authorization header, so Alertmanager presents a
// Grafana service-account token, which the Job meshwatch-intake-token (the
// compose service intake-token) creates and stores.
const (
	intakePath       = "/api/plugins/meshwatch-mesh-app/resources/intake/alertmanager"
	intakeSecret     = "meshwatch-intake-token"
	intakeJob        = "meshwatch-intake-token"
	intakeSA         = "meshwatch-intake-token" // the Job's Kubernetes ServiceAccount
	intakeScriptCM   = "meshwatch-intake-token-script"
	intakeScriptFile = "base/monitoring/intake-token/intake-token.sh"
	grafanaSAName    = "meshwatch-alert-intake" // the Grafana service account
)

type webhookConfig struct {
	URL          string `json:"url"`
	SendResolved bool   `json:"send_resolved"`
	MaxAlerts    int    `json:"max_alerts"`
	HTTPConfig   struct {
		Authorization *struct {
			Type            string `json:"type"`
			Credentials     string `json:"credentials"`
			CredentialsFile string `json:"credentials_file"`
		} `json:"authorization"`
		BearerToken     string `json:"bearer_token"`
		BearerTokenFile string `json:"bearer_token_file"`
	} `json:"http_config"`
}

type alertmanagerYML struct {
	Route struct {
		Receiver string   `json:"receiver"`
		GroupBy  []string `json:"group_by"`
	} `json:"route"`
	Receivers []struct {
		Name           string          `json:"name"`
		WebhookConfigs []webhookConfig `json:"webhook_configs"`
	} `json:"receivers"`
}

// theWebhook returns the one webhook of an alertmanager.yml that routes
// everything to MeshWatch, checked the way every sender must be set up:
// send_resolved, max_alerts, a Bearer token read from a file.
func theWebhook(t *testing.T, name, content string) (alertmanagerYML, webhookConfig) {
	t.Helper()
	var cfg alertmanagerYML
	if err := yaml.Unmarshal([]byte(content), &cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(cfg.Receivers) != 1 || cfg.Receivers[0].Name != cfg.Route.Receiver || len(cfg.Receivers[0].WebhookConfigs) != 1 {
		t.Fatalf("%s: receivers %+v: want the one meshwatch webhook as the route's receiver", name, cfg.Receivers)
	}
	wh := cfg.Receivers[0].WebhookConfigs[0]
	if !strings.HasSuffix(wh.URL, intakePath) {
		t.Errorf("%s: webhook url %q: want MeshWatch's intake route …%s", name, wh.URL, intakePath)
	}
	if !wh.SendResolved {
		t.Errorf("%s: send_resolved is off: incidents would never resolve", name)
	}
	if wh.MaxAlerts <= 0 {
		t.Errorf("%s: no max_alerts: a big group could exceed the 4 MiB MeshWatch takes in one body", name)
	}
	a := wh.HTTPConfig.Authorization
	switch {
	case a == nil || a.CredentialsFile == "":
		t.Errorf("%s: http_config.authorization.credentials_file is not set", name)
	case a.Credentials != "" || wh.HTTPConfig.BearerToken != "" || wh.HTTPConfig.BearerTokenFile != "":
		t.Errorf("%s: an inline credential or a second token source next to credentials_file", name)
	case a.Type != "" && a.Type != "Bearer":
		t.Errorf("%s: authorization type %q, want Bearer (Grafana's service-account tokens)", name, a.Type)
	}
	return cfg, wh
}

// TestAlertIntakeWiring checks the rendered manifests: Alertmanager posts to
// the intake route with the token file from Secret meshwatch-intake-token,
// which the Job writes; the old shared webhook-token is gone.
func TestAlertIntakeWiring(t *testing.T) {
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			cfg, wh := theWebhook(t, "alertmanager.yml", configMapFile(t, objs, "alertmanager-config", "alertmanager.yml"))
			if !slices.Equal(cfg.Route.GroupBy, []string{"namespace", "workload"}) {
				t.Errorf("group_by %v, want [namespace workload]", cfg.Route.GroupBy)
			}
			grafanaSvc := find(t, objs, "Service", grafanaNS, "grafana")
			port := servicePort(t, grafanaSvc, "http")
			if want := fmt.Sprintf("http://grafana.%s.svc:%d%s", grafanaNS, port, intakePath); wh.URL != want {
				t.Errorf("webhook url %q, want %q (the grafana Service)", wh.URL, want)
			}

			// The credentials file is the Secret's token key, mounted as a
			// directory (a subPath mount would never see the Secret appear or
			// change) from an optional volume (Alertmanager starts first).
			am := find(t, objs, "Deployment", grafanaNS, "alertmanager")
			spec, _ := podSpec(am)
			vol, item := secretVolume(t, spec, intakeSecret)
			if vol == nil {
				t.Fatalf("Alertmanager mounts no volume of Secret %s", intakeSecret)
			}
			if opt, _, _ := unstructured.NestedBool(vol, "secret", "optional"); !opt {
				t.Error("the intake-token volume is not optional: Alertmanager would not start before the Job has run")
			}
			mount := volumeMount(t, spec, "alertmanager", vol["name"].(string))
			if mount == nil {
				t.Fatalf("the alertmanager container does not mount volume %v", vol["name"])
			}
			if sp, _ := mount["subPath"].(string); sp != "" {
				t.Errorf("volume %v is mounted with subPath %q: the kubelet never updates a subPath mount", vol["name"], sp)
			}
			tokenKey := jobEnv(t, objs)["SECRET_KEY"]
			path := item[tokenKey]
			if path == "" {
				t.Fatalf("volume %v does not project key %q of Secret %s (items %v)", vol["name"], tokenKey, intakeSecret, item)
			}
			if want := mount["mountPath"].(string) + "/" + path; wh.HTTPConfig.Authorization.CredentialsFile != want {
				t.Errorf("credentials_file %q, want %q (key %s of Secret %s)", wh.HTTPConfig.Authorization.CredentialsFile, want, tokenKey, intakeSecret)
			}
			if v, _ := vol["secret"].(map[string]any)["defaultMode"]; v != nil && number(map[string]any{"m": v}, "m") > 0o440 {
				t.Errorf("the token file is readable by more than owner and group (defaultMode %v)", v)
			}
			// Alertmanager holds nothing of meshwatch-secrets any more.
			if v, _ := secretVolume(t, spec, "meshwatch-secrets"); v != nil {
				t.Error("Alertmanager still mounts Secret meshwatch-secrets")
			}

			// Nothing carries the old shared webhook-token: not Alertmanager,
			// not Grafana's environment, not any object.
			for _, o := range objs {
				b, _ := json.Marshal(o.Object)
				if bytes.Contains(b, []byte("webhook-token")) || bytes.Contains(b, []byte("MESHWATCH_WEBHOOK_TOKEN")) {
					t.Errorf("%s still refers to webhook-token / MESHWATCH_WEBHOOK_TOKEN", objKey(o))
				}
			}

			testIntakeJobSpec(t, objs)
		})
	}
}

func servicePort(t *testing.T, svc *unstructured.Unstructured, name string) int64 {
	t.Helper()
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range ports {
		if pm := p.(map[string]any); pm["name"] == name {
			return int64(number(pm, "port"))
		}
	}
	t.Fatalf("%s has no port %s", objKey(svc), name)
	return 0
}

// secretVolume returns the pod volume of Secret name and its items (key ->
// path; every key at its own name when there are no items).
func secretVolume(t *testing.T, spec map[string]any, name string) (map[string]any, map[string]string) {
	t.Helper()
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		vm := v.(map[string]any)
		if n, _, _ := unstructured.NestedString(vm, "secret", "secretName"); n != name {
			continue
		}
		items := map[string]string{}
		list, _, _ := unstructured.NestedSlice(vm, "secret", "items")
		for _, it := range list {
			im := it.(map[string]any)
			items[im["key"].(string)] = im["path"].(string)
		}
		if len(list) == 0 {
			items["*"] = "*"
		}
		return vm, items
	}
	return nil, nil
}

func volumeMount(t *testing.T, spec map[string]any, container, volume string) map[string]any {
	t.Helper()
	for _, c := range containers(spec) {
		if c.name != container {
			continue
		}
		vms, _ := c.m["volumeMounts"].([]any)
		for _, m := range vms {
			if mm := m.(map[string]any); mm["name"] == volume {
				return mm
			}
		}
	}
	return nil
}

// jobEnv is the literal environment of the Job's container.
func jobEnv(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	spec, _ := podSpec(find(t, objs, "Job", grafanaNS, intakeJob))
	cs := containers(spec)
	if len(cs) != 1 {
		t.Fatalf("Job %s has %d containers, want 1", intakeJob, len(cs))
	}
	env := map[string]string{}
	list, _ := cs[0].m["env"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		v, _ := em["value"].(string)
		env[em["name"].(string)] = v
	}
	return env
}

// testIntakeJobSpec checks the Job: what it writes is what Alertmanager
// mounts, the admin password is the one Grafana starts with, it is locked
// down and bounded, and its RBAC reaches exactly one Secret.
func testIntakeJobSpec(t *testing.T, objs []*unstructured.Unstructured) {
	job := find(t, objs, "Job", grafanaNS, intakeJob)
	spec, tmpl := podSpec(job)
	env := jobEnv(t, objs)
	if env["SECRET_NAME"] != intakeSecret || env["SA_NAME"] != grafanaSAName || env["SECRET_KEY"] == "" {
		t.Errorf("Job env %v: want SECRET_NAME=%s, SA_NAME=%s and a SECRET_KEY", env, intakeSecret, grafanaSAName)
	}
	if want := fmt.Sprintf("http://grafana.%s.svc:%d", grafanaNS, servicePort(t, find(t, objs, "Service", grafanaNS, "grafana"), "http")); env["GRAFANA_URL"] != want {
		t.Errorf("Job GRAFANA_URL %q, want %q", env["GRAFANA_URL"], want)
	}
	for _, k := range []string{"GRAFANA_ADMIN_PASSWORD", "TOKEN_FILE"} {
		if _, ok := env[k]; ok {
			t.Errorf("Job sets %s (the password comes from a file, the token goes to the Secret)", k)
		}
	}
	// The admin password file is meshwatch-secrets/admin-password, as
	// Grafana's GF_SECURITY_ADMIN_PASSWORD.
	vol, items := secretVolume(t, spec, "meshwatch-secrets")
	if vol == nil || len(items) != 1 || items["admin-password"] == "" {
		t.Fatalf("Job: want exactly key admin-password of Secret meshwatch-secrets mounted, got %v", items)
	}
	m := volumeMount(t, spec, containers(spec)[0].name, vol["name"].(string))
	if m == nil || env["GRAFANA_ADMIN_PASSWORD_FILE"] != m["mountPath"].(string)+"/"+items["admin-password"] {
		t.Errorf("Job GRAFANA_ADMIN_PASSWORD_FILE %q is not the mounted admin-password", env["GRAFANA_ADMIN_PASSWORD_FILE"])
	}
	gc, _ := grafanaProvisioning(t)
	gEnv, _ := gc["env"].([]any)
	adminRef := ""
	for _, e := range gEnv {
		em := e.(map[string]any)
		if em["name"] == "GF_SECURITY_ADMIN_PASSWORD" {
			ref, _, _ := unstructured.NestedStringMap(em, "valueFrom", "secretKeyRef")
			adminRef = ref["name"] + "/" + ref["key"]
		}
	}
	if adminRef != "meshwatch-secrets/admin-password" {
		t.Errorf("Grafana's admin password comes from %q, the Job's from meshwatch-secrets/admin-password", adminRef)
	}
	// The script the Job runs is the file in the repository (docker
	// compose mounts that file).
	want, err := os.ReadFile(intakeScriptFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := configMapFile(t, objs, intakeScriptCM, filepath.Base(intakeScriptFile)); got != string(want) {
		t.Errorf("ConfigMap %s differs from %s", intakeScriptCM, intakeScriptFile)
	}

	// Bounded and locked down.
	for _, f := range []string{"backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"} {
		if v := number(job.Object, "spec", f); v <= 0 {
			t.Errorf("Job spec.%s is not set", f)
		}
	}
	if rp, _, _ := unstructured.NestedString(tmpl, "spec", "restartPolicy"); rp != "Never" && rp != "OnFailure" {
		t.Errorf("Job restartPolicy %q", rp)
	}
	if sa, _ := spec["serviceAccountName"].(string); sa != intakeSA {
		t.Errorf("Job runs as ServiceAccount %q, want %s", sa, intakeSA)
	}
	if nonRoot, _, _ := unstructured.NestedBool(spec, "securityContext", "runAsNonRoot"); !nonRoot {
		t.Error("Job pod: runAsNonRoot is not set")
	}
	if uid := number(spec, "securityContext", "runAsUser"); uid <= 0 {
		t.Error("Job pod: no numeric non-root runAsUser (the image's user is a name the kubelet cannot check)")
	}
	for _, c := range containers(spec) {
		sc, _ := c.m["securityContext"].(map[string]any)
		ro, _ := sc["readOnlyRootFilesystem"].(bool)
		esc, ok := sc["allowPrivilegeEscalation"].(bool)
		drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop")
		if !ro || !ok || esc || !slices.Equal(drop, []string{"ALL"}) {
			t.Errorf("Job container %s: securityContext %v: want readOnlyRootFilesystem, no privilege escalation, drop ALL", c.name, sc)
		}
	}

	// RBAC: whatever is bound to the Job's ServiceAccount grants get,
	// create and patch of the one Secret, by name, and nothing else.
	var granted []string
	for _, o := range objs {
		if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		subs, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		bound := false
		for _, s := range subs {
			sm := s.(map[string]any)
			bound = bound || (sm["kind"] == "ServiceAccount" && sm["name"] == intakeSA && sm["namespace"] == grafanaNS)
		}
		if !bound {
			continue
		}
		if o.GetKind() == "ClusterRoleBinding" {
			t.Errorf("%s binds the Job's ServiceAccount cluster-wide", objKey(o))
		}
		kind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
		role := find(t, objs, kind, map[string]string{"Role": o.GetNamespace()}[kind], name)
		rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			groups, _, _ := unstructured.NestedStringSlice(rm, "apiGroups")
			res, _, _ := unstructured.NestedStringSlice(rm, "resources")
			names, _, _ := unstructured.NestedStringSlice(rm, "resourceNames")
			verbs, _, _ := unstructured.NestedStringSlice(rm, "verbs")
			if !slices.Equal(groups, []string{""}) || !slices.Equal(res, []string{"secrets"}) || !slices.Equal(names, []string{intakeSecret}) {
				t.Errorf("%s rule %v: want only secrets named %s", objKey(role), rm, intakeSecret)
			}
			granted = append(granted, verbs...)
		}
	}
	slices.Sort(granted)
	if !slices.Equal(granted, []string{"create", "get", "patch"}) {
		t.Errorf("the Job's ServiceAccount may %v on Secret %s, want exactly create, get, patch", granted, intakeSecret)
	}
}

// ---------------------------------------------------------------------------
// The script, run here against a contract fake of Grafana's service-account
// API (no Grafana server runs on this machine) and, in TestAgainstAPIServer,
// the real kube-apiserver.

// fakeGrafana is a contract fake of the Grafana HTTP API routes
// intake-token.sh calls, with the request and answer shapes of Grafana 13
// (grafana/grafana pkg/services/serviceaccounts/api/api.go, token.go and
// models.go; pkg/api/user.go): compact JSON, admin by basic auth, tokens
// checked on GET /api/user (401 when unknown, revoked or the account is
// disabled), token names unique in the org, service-account names unique.
type fakeGrafana struct {
	srv *httptest.Server

	mu             sync.Mutex
	password       string
	healthFailures int // the first N GET /api/health answer 503
	userStatus     int // when set, GET /api/user answers this
	accounts       []*fakeAccount
	tokens         []*fakeToken
	lastID         int64
	deleted        int
}

type fakeAccount struct {
	id       int64
	name     string
	role     string
	disabled bool
}

type fakeToken struct {
	id, account int64
	name, key   string
	revoked     bool
}

type fakeAccountDTO struct {
	ID         int64  `json:"id"`
	UID        string `json:"uid"`
	Name       string `json:"name"`
	Login      string `json:"login"`
	OrgID      int64  `json:"orgId"`
	IsDisabled bool   `json:"isDisabled"`
	Role       string `json:"role"`
	Tokens     int64  `json:"tokens"`
	AvatarURL  string `json:"avatarUrl"`
}

func newFakeGrafana(t *testing.T, password string) *fakeGrafana {
	g := &fakeGrafana{password: password}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", g.health)
	mux.HandleFunc("GET /api/user", g.user)
	mux.HandleFunc("GET /api/serviceaccounts/search", g.admin(g.search))
	mux.HandleFunc("POST /api/serviceaccounts", g.admin(g.createAccount))
	mux.HandleFunc("POST /api/serviceaccounts/{id}/tokens", g.admin(g.createToken))
	mux.HandleFunc("DELETE /api/serviceaccounts/{id}/tokens/{tid}", g.admin(g.deleteToken))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func grafanaJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func grafanaError(w http.ResponseWriter, status int, messageID, message string) {
	grafanaJSON(w, status, map[string]any{"message": message, "messageId": messageID, "statusCode": status, "traceID": ""})
}

func (g *fakeGrafana) health(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.healthFailures > 0 {
		g.healthFailures--
		grafanaJSON(w, http.StatusServiceUnavailable, map[string]string{"database": "failing"})
		return
	}
	grafanaJSON(w, http.StatusOK, map[string]string{"database": "ok", "version": "13.1.0"})
}

func (g *fakeGrafana) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		g.mu.Lock()
		good := ok && u == "admin" && p == g.password
		g.mu.Unlock()
		if !good {
			grafanaError(w, http.StatusUnauthorized, "password-auth.failed", "Invalid username or password")
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		h(w, r)
	}
}

func (g *fakeGrafana) user(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.userStatus != 0 {
		grafanaError(w, g.userStatus, "", "Failed to get user")
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		for _, tk := range g.tokens {
			if tk.key == key && !tk.revoked {
				a := g.account(tk.account)
				if a != nil && !a.disabled {
					grafanaJSON(w, http.StatusOK, map[string]any{"id": a.id, "uid": "sa" + strconv.FormatInt(a.id, 10),
						"name": a.name, "login": "sa-1-" + a.name, "email": "", "orgId": 1, "isGrafanaAdmin": false})
					return
				}
			}
		}
	}
	grafanaError(w, http.StatusUnauthorized, "api-key.invalid", "Invalid API key")
}

func (g *fakeGrafana) account(id int64) *fakeAccount {
	for _, a := range g.accounts {
		if a.id == id {
			return a
		}
	}
	return nil
}

func (g *fakeGrafana) dto(a *fakeAccount) fakeAccountDTO {
	n := int64(0)
	for _, tk := range g.tokens {
		if tk.account == a.id {
			n++
		}
	}
	return fakeAccountDTO{ID: a.id, UID: "sa" + strconv.FormatInt(a.id, 10), Name: a.name, Login: "sa-1-" + a.name,
		OrgID: 1, IsDisabled: a.disabled, Role: a.role, Tokens: n, AvatarURL: "/avatar/0"}
}

func (g *fakeGrafana) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("query")
	perPage, _ := strconv.Atoi(r.URL.Query().Get("perpage"))
	if perPage <= 0 {
		perPage = 1000
	}
	list := []fakeAccountDTO{}
	for _, a := range g.accounts {
		if strings.Contains(a.name, q) {
			list = append(list, g.dto(a))
		}
	}
	grafanaJSON(w, http.StatusOK, map[string]any{"totalCount": len(list), "serviceAccounts": list, "page": 1, "perPage": perPage})
}

func (g *fakeGrafana) createAccount(w http.ResponseWriter, r *http.Request) {
	var form struct {
		Name       string  `json:"name"`
		Role       *string `json:"role"`
		IsDisabled *bool   `json:"isDisabled"`
	}
	if err := json.NewDecoder(r.Body).Decode(&form); err != nil || form.Name == "" {
		grafanaError(w, http.StatusBadRequest, "", "Bad request data")
		return
	}
	role := "Viewer" // Grafana's default for a missing role is None; the script always sends one
	if form.Role != nil {
		role = *form.Role
	}
	if !slices.Contains([]string{"None", "Viewer", "Editor", "Admin"}, role) {
		grafanaError(w, http.StatusBadRequest, "serviceaccounts.ErrInvalidRoleSpecified", "invalid role specified")
		return
	}
	for _, a := range g.accounts {
		if a.name == form.Name {
			grafanaError(w, http.StatusBadRequest, "serviceaccounts.ErrAlreadyExists", "service account already exists")
			return
		}
	}
	g.lastID++
	a := &fakeAccount{id: g.lastID, name: form.Name, role: role, disabled: form.IsDisabled != nil && *form.IsDisabled}
	g.accounts = append(g.accounts, a)
	grafanaJSON(w, http.StatusCreated, g.dto(a))
}

func (g *fakeGrafana) createToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	a := g.account(id)
	if a == nil {
		grafanaError(w, http.StatusNotFound, "serviceaccounts.ErrNotFound", "service account not found")
		return
	}
	var form struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&form); err != nil || form.Name == "" {
		grafanaError(w, http.StatusBadRequest, "", "Bad request data")
		return
	}
	for _, tk := range g.tokens {
		if tk.name == form.Name {
			grafanaError(w, http.StatusBadRequest, "serviceaccounts.ErrTokenAlreadyExists",
				"service account token with given name already exists in the organization")
			return
		}
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	g.lastID++
	tk := &fakeToken{id: g.lastID, account: id, name: form.Name,
		key: "glsa_" + base64.RawURLEncoding.EncodeToString(secret)[:22] + "_" + hex.EncodeToString(secret[:4])}
	g.tokens = append(g.tokens, tk)
	grafanaJSON(w, http.StatusOK, map[string]any{"id": tk.id, "name": tk.name, "key": tk.key})
}

func (g *fakeGrafana) deleteToken(w http.ResponseWriter, r *http.Request) {
	tid, _ := strconv.ParseInt(r.PathValue("tid"), 10, 64)
	for i, tk := range g.tokens {
		if tk.id == tid {
			g.tokens = slices.Delete(g.tokens, i, i+1)
			g.deleted++
			grafanaJSON(w, http.StatusOK, map[string]string{"message": "API key deleted"})
			return
		}
	}
	grafanaError(w, http.StatusNotFound, "serviceaccounts.ErrTokenNotFound", "service account token not found")
}

// state returns the fake's accounts named name and every token's key.
func (g *fakeGrafana) state(name string) (accounts []fakeAccount, keys []string, live int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range g.accounts {
		if a.name == name {
			accounts = append(accounts, *a)
		}
	}
	for _, tk := range g.tokens {
		keys = append(keys, tk.key)
		if !tk.revoked {
			live++
		}
	}
	return accounts, keys, live
}

func (g *fakeGrafana) revokeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, tk := range g.tokens {
		tk.revoked = true
	}
}

// shellEnv is a shell to run intake-token.sh with and the PATH it gets.
type shellEnv struct{ name, shell, path string }

// scriptShells returns how to run intake-token.sh: first the way the image
// does (curlimages/curl is Alpine: BusyBox sh and applets, and curl), when
// busybox is installed here, with exactly those on the PATH; then /bin/sh
// with this machine's tools.
func scriptShells(t *testing.T) []shellEnv {
	t.Helper()
	curl := harness.RequireBinary(t, "curl")
	plain := shellEnv{"system sh", "/bin/sh", os.Getenv("PATH")}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Logf("busybox not installed: the script runs with /bin/sh and this machine's tools only")
		return []shellEnv{plain}
	}
	dir := t.TempDir()
	for _, applet := range []string{"sh", "sed", "tr", "grep", "head", "cat", "base64", "date", "od", "sleep", "mv", "rm", "chown", "cut"} {
		if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(curl, filepath.Join(dir, "curl")); err != nil {
		t.Fatal(err)
	}
	return []shellEnv{{"busybox sh (as in the image)", filepath.Join(dir, "sh"), dir}, plain}
}

// runScript runs the script with exactly env (plus PATH), and returns its
// combined output and exit code.
func runScript(t *testing.T, sh shellEnv, script string, env map[string]string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh.shell, script)
	cmd.Env = []string{"PATH=" + sh.path, "HOME=/nonexistent"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %s: %v", script, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), code
}

// noSecrets fails when any secret appears in the script's output, in clear
// or base64.
func noSecrets(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(out, s) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(s))) {
			t.Errorf("%s: the output shows a secret (%d characters)", what, len(s))
		}
	}
}

// TestIntakeTokenScript runs intake-token.sh as the compose service does
// (token to a file) against the Grafana contract fake: it waits for
// Grafana, creates the service account and a token, keeps a token that
// works, replaces one Grafana refuses, and fails loudly and without
// replacing anything when Grafana or the admin credentials are wrong.
func TestIntakeTokenScript(t *testing.T) {
	for _, sh := range scriptShells(t) {
		t.Run(sh.name, func(t *testing.T) { testIntakeTokenScript(t, sh) })
	}
}

func testIntakeTokenScript(t *testing.T, sh shellEnv) {
	const password = "adm1n-pa55:word\"x"
	g := newFakeGrafana(t, password)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	env := map[string]string{
		"GRAFANA_URL":            g.srv.URL + "/",
		"GRAFANA_ADMIN_PASSWORD": password,
		"TOKEN_FILE":             tokenFile,
		"POLL_SECONDS":           "1",
		"WAIT_SECONDS":           "30",
	}
	// A decoy whose name contains the real one: the search matches both.
	g.mu.Lock()
	g.lastID++
	g.accounts = append(g.accounts, &fakeAccount{id: g.lastID, name: grafanaSAName + "-old", role: "Editor"})
	g.healthFailures = 2
	g.mu.Unlock()

	run := func(name string, wantCode int) string {
		t.Helper()
		out, code := runScript(t, sh, intakeScriptFile, env)
		t.Logf("%s (exit %d):\n%s", name, code, out)
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d", name, code, wantCode)
		}
		_, keys, _ := g.state(grafanaSAName)
		noSecrets(t, name, out, append(keys, password)...)
		return out
	}
	readToken := func() string {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	out := run("first run", 0)
	if !strings.Contains(out, "waiting for Grafana") {
		t.Error("the script did not wait for GET /api/health to answer 200")
	}
	accounts, keys, _ := g.state(grafanaSAName)
	if len(accounts) != 1 || accounts[0].role != "Viewer" || accounts[0].disabled {
		t.Fatalf("service accounts named %s: %+v, want one enabled Viewer", grafanaSAName, accounts)
	}
	if len(keys) != 1 || readToken() != keys[0] {
		t.Fatalf("the file does not hold the one token Grafana issued (%d tokens)", len(keys))
	}
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o027 != 0 {
		t.Errorf("token file mode %v: want no group write and nothing for others", st.Mode().Perm())
	}
	first := readToken()

	out = run("second run, the token works", 0)
	if _, keys, _ := g.state(grafanaSAName); len(keys) != 1 || readToken() != first || !strings.Contains(out, "kept it") {
		t.Errorf("a working token was not kept: %d tokens in Grafana", len(keys))
	}

	g.revokeAll()
	run("third run, the token is revoked", 0)
	accounts, keys, live := g.state(grafanaSAName)
	if len(accounts) != 1 || len(keys) != 2 || live != 1 || readToken() == first || readToken() != keys[1] {
		t.Errorf("a revoked token was not replaced by a new one of the same account: %d accounts, %d tokens (%d live)", len(accounts), len(keys), live)
	}

	// Grafana answers neither 200 nor 401 on the check: keep the token, fail.
	g.mu.Lock()
	g.userStatus = http.StatusInternalServerError
	g.mu.Unlock()
	second := readToken()
	out = run("Grafana answers 500 on GET /api/user", 1)
	if readToken() != second || !strings.Contains(out, "not replacing") {
		t.Error("the token was touched although Grafana could not say whether it works")
	}
	g.mu.Lock()
	g.userStatus = 0
	g.mu.Unlock()

	// A refused token and a wrong admin password: a clear error, no token.
	g.revokeAll()
	env["GRAFANA_ADMIN_PASSWORD"] = "wrong"
	out = run("wrong admin password", 1)
	env["GRAFANA_ADMIN_PASSWORD"] = password
	if _, keys, _ := g.state(grafanaSAName); len(keys) != 2 || !strings.Contains(out, "password") {
		t.Errorf("wrong admin password: want a failure naming the password and no new token (%d tokens)", len(keys))
	}

	// The token cannot be stored: it is deleted from Grafana again.
	env["TOKEN_FILE"] = filepath.Join(dir, "missing-dir", "token")
	out = run("the token file cannot be written", 1)
	env["TOKEN_FILE"] = tokenFile
	g.mu.Lock()
	deleted := g.deleted
	g.mu.Unlock()
	if _, keys, _ := g.state(grafanaSAName); deleted != 1 || len(keys) != 2 || !strings.Contains(out, "deleted token") {
		t.Errorf("an unstored token was not deleted from Grafana (deleted %d, %d tokens left)", deleted, len(keys))
	}

	// A disabled account: say so, change nothing.
	g.mu.Lock()
	for _, a := range g.accounts {
		if a.name == grafanaSAName {
			a.disabled = true
		}
	}
	g.mu.Unlock()
	out = run("the service account is disabled", 1)
	if _, keys, _ := g.state(grafanaSAName); len(keys) != 2 || !strings.Contains(out, "disabled") {
		t.Errorf("disabled account: want a failure saying so and no new token (%d tokens)", len(keys))
	}

	// As root (the compose service), the file goes to Alertmanager's user.
	if os.Geteuid() == 0 {
		g.mu.Lock()
		for _, a := range g.accounts {
			a.disabled = false
		}
		g.mu.Unlock()
		env["TOKEN_FILE_OWNER"] = "65534:0"
		run("as root, chown to 65534:0", 0)
		st, err := os.Stat(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 65534 || sys.Gid != 0 {
			t.Errorf("token file owner %v, want 65534:0", st.Sys())
		}
		run("as root, the chowned token works and is kept", 0)
	}
}

// testIntakeTokenJob runs on the real API server (TestAgainstAPIServer):
// the Job's RBAC as SubjectAccessReviews and impersonated requests, then the
// Job's script with a real token of the Job's ServiceAccount against the API
// server and the Grafana contract fake.
func testIntakeTokenJob(t *testing.T, c *cluster) {
	objs := render(t, overlays[0])
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			rbac = append(rbac, o.DeepCopy())
		}
	}
	c.applyForReal(t, rbac...)
	user := "system:serviceaccount:" + grafanaNS + ":" + intakeSA
	sar := func(ns, verb, resource, name string) bool {
		t.Helper()
		review := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "authorization.k8s.io/v1",
			"kind":       "SubjectAccessReview",
			"spec": map[string]any{
				"user":   user,
				"groups": []any{"system:serviceaccounts", "system:serviceaccounts:" + grafanaNS, "system:authenticated"},
				"resourceAttributes": map[string]any{
					"namespace": ns, "verb": verb, "resource": resource, "name": name,
				},
			},
		}}
		res, err := c.dyn.Resource(sarGVRIntake).Create(c.ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		ok, _, _ := unstructured.NestedBool(res.Object, "status", "allowed")
		return ok
	}
	for deadline := time.Now().Add(30 * time.Second); !sar(grafanaNS, "get", "secrets", intakeSecret); {
		if time.Now().After(deadline) {
			t.Fatalf("%s never got get secrets/%s within 30 s", user, intakeSecret)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var allowed []string
	checks := 0
	for _, ns := range []string{grafanaNS, "default", "shop"} {
		for _, res := range []string{"secrets", "configmaps", "pods", "serviceaccounts"} {
			for _, name := range []string{intakeSecret, "meshwatch-secrets", ""} {
				for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"} {
					checks++
					if sar(ns, verb, res, name) {
						allowed = append(allowed, fmt.Sprintf("%s %s/%s in %s", verb, res, name, ns))
					}
				}
			}
		}
	}
	want := []string{}
	for _, v := range []string{"get", "create", "patch"} {
		want = append(want, fmt.Sprintf("%s secrets/%s in %s", v, intakeSecret, grafanaNS))
	}
	slices.Sort(allowed)
	slices.Sort(want)
	t.Logf("SubjectAccessReviews for %s: %d checks, allowed: %v", user, checks, allowed)
	if !slices.Equal(allowed, want) {
		t.Errorf("%s may %v, want exactly %v", user, allowed, want)
	}

	// Impersonated: a server-side apply creates the named Secret (create is
	// authorized with the name); a plain create of another Secret, reading
	// meshwatch-secrets and listing are forbidden.
	as, err := dynamic.NewForConfig(c.kube.AsServiceAccount(grafanaNS, intakeSA))
	if err != nil {
		t.Fatal(err)
	}
	secrets := as.Resource(secretsGVR).Namespace(grafanaNS)
	probe := []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + intakeSecret + `"},"data":{"probe":"eA=="}}`)
	if _, err := secrets.Patch(c.ctx, intakeSecret, types.ApplyPatchType, probe, metav1.PatchOptions{FieldManager: "rbac-probe"}); err != nil {
		t.Errorf("server-side apply creating Secret %s as the Job: %v", intakeSecret, err)
	}
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "other"}}}
	for what, err := range map[string]error{
		"create Secret other":   func() error { _, err := secrets.Create(c.ctx, other, metav1.CreateOptions{}); return err }(),
		"get meshwatch-secrets": func() error { _, err := secrets.Get(c.ctx, "meshwatch-secrets", metav1.GetOptions{}); return err }(),
		"list secrets":          func() error { _, err := secrets.List(c.ctx, metav1.ListOptions{}); return err }(),
		"delete " + intakeSecret: func() error {
			return secrets.Delete(c.ctx, intakeSecret, metav1.DeleteOptions{})
		}(),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("the Job may %s: err = %v, want 403 Forbidden", what, err)
		}
	}
	admin := c.dyn.Resource(secretsGVR).Namespace(grafanaNS)
	if err := admin.Delete(c.ctx, intakeSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete the probe Secret: %v", err)
	}

	// The script, as the Job runs it: its env from the rendered Job, a real
	// token of the Job's ServiceAccount, the API server's CA.
	saDir := t.TempDir()
	saToken := serviceAccountToken(t, c, grafanaNS, intakeSA)
	for name, content := range map[string][]byte{"token": []byte(saToken), "ca.crt": c.kube.AdminConfig.CAData, "namespace": []byte(grafanaNS)} {
		if err := os.WriteFile(filepath.Join(saDir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const password = "k8s-admin-password"
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "intake-token.sh")
	if err := os.WriteFile(script, []byte(configMapFile(t, objs, intakeScriptCM, "intake-token.sh")), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newFakeGrafana(t, password)
	sh := scriptShells(t)[0] // as in the image when busybox is here
	env := jobEnv(t, objs)
	env["GRAFANA_URL"] = g.srv.URL
	env["GRAFANA_ADMIN_PASSWORD_FILE"] = pwFile
	env["KUBE_SA_DIR"] = saDir
	env["KUBE_API"] = c.kube.URL
	env["WAIT_SECONDS"] = "30"
	key := env["SECRET_KEY"]

	run := func(name string) string {
		t.Helper()
		out, code := runScript(t, sh, script, env)
		t.Logf("%s (exit %d):\n%s", name, code, out)
		if code != 0 {
			t.Fatalf("%s: exit %d", name, code)
		}
		_, keys, _ := g.state(grafanaSAName)
		noSecrets(t, name, out, append(keys, password, saToken)...)
		return out
	}
	stored := func() (string, string) {
		t.Helper()
		s, err := admin.Get(c.ctx, intakeSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Secret %s: %v", intakeSecret, err)
		}
		b64, _, _ := unstructured.NestedString(s.Object, "data", key)
		tok, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		return string(tok), s.GetResourceVersion()
	}

	run("Job, first run")
	accounts, keys, _ := g.state(grafanaSAName)
	tok, rv := stored()
	if len(accounts) != 1 || accounts[0].role != "Viewer" || len(keys) != 1 || tok != keys[0] {
		t.Fatalf("after the first run: accounts %+v, %d tokens; the Secret must hold the one token", accounts, len(keys))
	}
	s, _ := admin.Get(c.ctx, intakeSecret, metav1.GetOptions{})
	if s.GetLabels()["app.kubernetes.io/part-of"] != "meshwatch" || !strings.HasPrefix(s.GetAnnotations()["meshwatch.io/grafana-token"], grafanaSAName+"/") {
		t.Errorf("Secret labels %v, annotations %v", s.GetLabels(), s.GetAnnotations())
	}
	if typ, _, _ := unstructured.NestedString(s.Object, "type"); typ != "Opaque" {
		t.Errorf("Secret type %q", typ)
	}

	out := run("Job, second run")
	if tok2, rv2 := stored(); tok2 != tok || rv2 != rv || !strings.Contains(out, "kept it") {
		t.Error("the second run changed a Secret whose token works")
	}
	if _, keys, _ := g.state(grafanaSAName); len(keys) != 1 {
		t.Errorf("the second run made a token (%d)", len(keys))
	}

	g.revokeAll()
	run("Job, the token revoked")
	_, keys, live := g.state(grafanaSAName)
	if tok3, _ := stored(); len(keys) != 2 || live != 1 || tok3 == tok || tok3 != keys[1] {
		t.Errorf("a revoked token was not replaced in the Secret (%d tokens, %d live)", len(keys), live)
	}
	t.Logf("the Job's script on the API server: created Secret %s, kept a working token, replaced a revoked one", intakeSecret)
}

// ---------------------------------------------------------------------------
// The docker-compose stack.

type composeStack struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		User        string            `json:"user"`
		Entrypoint  []string          `json:"entrypoint"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
		DependsOn   any               `json:"depends_on"`
		CapDrop     []string          `json:"cap_drop"`
		CapAdd      []string          `json:"cap_add"`
		ReadOnly    bool              `json:"read_only"`
		Restart     string            `json:"restart"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

// TestComposeAlertIntake checks docker-compose.yaml: the one-shot service
// runs the same script, writes the token into a named volume that
// Alertmanager mounts read-only at its credentials_file, and no shared
// webhook token is left.
func TestComposeAlertIntake(t *testing.T) {
	var cf composeStack
	readYAMLFile(t, "../docker-compose.yaml", &cf)
	amYML, err := os.ReadFile("compose/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(amYML, []byte("change-me")) {
		t.Error("compose/alertmanager.yml still holds the inline credential change-me")
	}
	_, wh := theWebhook(t, "compose/alertmanager.yml", string(amYML))
	if want := "http://grafana:3000" + intakePath; wh.URL != want {
		t.Errorf("compose webhook url %q, want %q", wh.URL, want)
	}
	oneShot, ok := cf.Services["intake-token"]
	if !ok {
		t.Fatal("docker-compose.yaml has no intake-token service")
	}
	if err := checkImage(oneShot.Image); err != nil || !strings.HasPrefix(oneShot.Image, "curlimages/curl:") {
		t.Errorf("intake-token image %q: want curlimages/curl pinned by version (%v)", oneShot.Image, err)
	}
	env := oneShot.Environment
	if env["TOKEN_FILE"] == "" || env["SA_NAME"] != "" && env["SA_NAME"] != grafanaSAName || !strings.HasPrefix(env["GRAFANA_URL"], "http://grafana:3000") {
		t.Errorf("intake-token environment %v: want TOKEN_FILE and GRAFANA_URL http://grafana:3000", env)
	}
	scriptMounted, tokenVolume := false, ""
	for _, v := range oneShot.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst = strings.TrimSuffix(dst, ":ro")
		if filepath.Clean(src) == filepath.Clean("./deploy/"+intakeScriptFile) && slices.Contains(oneShot.Entrypoint, dst) {
			scriptMounted = true
		}
		if strings.HasPrefix(env["TOKEN_FILE"], dst+"/") && !strings.HasPrefix(src, ".") {
			tokenVolume = src
		}
	}
	if !scriptMounted {
		t.Errorf("intake-token does not run deploy/%s (entrypoint %v, volumes %v)", intakeScriptFile, oneShot.Entrypoint, oneShot.Volumes)
	}
	if _, ok := cf.Volumes[tokenVolume]; tokenVolume == "" || !ok {
		t.Fatalf("TOKEN_FILE %s is not on a named volume of the compose file", env["TOKEN_FILE"])
	}
	if !slices.Equal(oneShot.CapDrop, []string{"ALL"}) || !oneShot.ReadOnly {
		t.Errorf("intake-token: cap_drop %v, read_only %v: want ALL dropped and a read-only root filesystem", oneShot.CapDrop, oneShot.ReadOnly)
	}
	am := cf.Services["alertmanager"]
	mounted := false
	for _, v := range am.Volumes {
		parts := strings.Split(v, ":")
		if parts[0] == tokenVolume && len(parts) == 3 && parts[2] == "ro" &&
			strings.TrimSuffix(wh.HTTPConfig.Authorization.CredentialsFile, "/"+filepath.Base(env["TOKEN_FILE"])) == parts[1] {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("alertmanager does not mount volume %s read-only where credentials_file %s points (volumes %v)",
			tokenVolume, wh.HTTPConfig.Authorization.CredentialsFile, am.Volumes)
	}
	grafana := cf.Services["grafana"]
	if _, ok := grafana.Environment["MESHWATCH_WEBHOOK_TOKEN"]; ok {
		t.Error("grafana still gets MESHWATCH_WEBHOOK_TOKEN")
	}
	if grafana.Environment["GF_AUTH_BASIC_ENABLED"] != "true" || grafana.Environment["GF_SECURITY_ADMIN_PASSWORD"] == "" {
		t.Errorf("grafana environment: the one-shot needs basic auth on and the admin password it uses (GF_AUTH_BASIC_ENABLED, GF_SECURITY_ADMIN_PASSWORD)")
	}
	if grafana.Environment["GF_SECURITY_ADMIN_PASSWORD"] != env["GRAFANA_ADMIN_PASSWORD"] {
		t.Errorf("grafana's admin password %q and the one-shot's %q differ", grafana.Environment["GF_SECURITY_ADMIN_PASSWORD"], env["GRAFANA_ADMIN_PASSWORD"])
	}
}

// ---------------------------------------------------------------------------
// Real Alertmanager delivering to the intake route.

type delivery struct {
	path, auth string
	body       struct {
		Version string `json:"version"`
		Status  string `json:"status"`
		Alerts  []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
}

// testAlertmanagerDelivery starts the real Alertmanager on cfg with the
// intake URL pointed at a local receiver and the credentials file at a path
// that does not exist yet (Alertmanager before the Job ran), and checks
// that it starts, delivers once the token file appears, and presents a
// rotated token on the next delivery without a restart.
func testAlertmanagerDelivery(t *testing.T, cfg, grafanaBase string) {
	bin := harness.RequireBinary(t, harness.BinAlertmanager)
	_, wh := theWebhook(t, "alertmanager.yml", cfg)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "intake", "token")

	var mu sync.Mutex
	var got []delivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := delivery{path: r.URL.Path, auth: r.Header.Get("Authorization")}
		if err := json.NewDecoder(r.Body).Decode(&d.body); err != nil {
			http.Error(w, `{"error":"malformed JSON"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"accepted":%d,"rejected":[],"incidents":[1]}`, len(d.body.Alerts))
	}))
	defer recv.Close()

	if !strings.HasPrefix(wh.URL, grafanaBase) || !strings.Contains(cfg, "group_wait: 10s") {
		t.Fatalf("the config does not post to %s with group_wait 10s", grafanaBase)
	}
	cfg = strings.ReplaceAll(cfg, grafanaBase, recv.URL)
	cfg = strings.ReplaceAll(cfg, wh.HTTPConfig.Authorization.CredentialsFile, tokenFile)
	cfg = strings.Replace(cfg, "group_wait: 10s", "group_wait: 1s", 1) // only to keep the test short
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	port := freeLoopbackPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+path, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when Alertmanager has exited
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, 30*time.Second, "Alertmanager ready without the token file", done, logs, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	post := func(workload string) {
		t.Helper()
		alert := fmt.Sprintf(`[{"labels":{"alertname":"MeshWatchIntakeTest","namespace":"shop","workload":%q,"severity":"warning"},"annotations":{"summary":"test"}}]`, workload)
		resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", strings.NewReader(alert))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}

	post("api")
	waitFor(t, 30*time.Second, "failed delivery for want of the token file", done, logs, func() bool {
		return strings.Contains(logs.String(), "unable to read authorization credentials")
	})
	if n := count(); n != 0 {
		t.Fatalf("Alertmanager delivered %d notifications without a token", n)
	}
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("glsa_first_token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a delivery once the token file exists", done, logs, func() bool { return count() >= 1 })

	if err := os.WriteFile(tokenFile+".new", []byte("glsa_second_token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenFile+".new", tokenFile); err != nil { // as the kubelet and the script swap files
		t.Fatal(err)
	}
	post("orders") // a new group: a new notification
	waitFor(t, 30*time.Second, "a delivery of the second group", done, logs, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			for _, a := range d.body.Alerts {
				if a.Labels["workload"] == "orders" {
					return true
				}
			}
		}
		return false
	})

	mu.Lock()
	defer mu.Unlock()
	for _, d := range got {
		workload := ""
		if len(d.body.Alerts) > 0 {
			workload = d.body.Alerts[0].Labels["workload"]
		}
		want := "Bearer glsa_first_token"
		if workload == "orders" {
			want = "Bearer glsa_second_token"
		}
		if d.path != intakePath || d.auth != want || d.body.Version != "4" || d.body.Status != "firing" {
			t.Errorf("delivery for workload %q: path %s, Authorization %q, version %q, status %q; want %s, %q, 4, firing",
				workload, d.path, d.auth, d.body.Version, d.body.Status, intakePath, want)
		}
	}
	t.Logf("real Alertmanager: started without the token file, delivered %d notifications to %s once it appeared, the rotated token on the next one", len(got), intakePath)
}

// syncBuffer is a bytes.Buffer a running process writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, timeout time.Duration, what string, exited <-chan struct{}, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-exited:
			t.Fatalf("alertmanager exited waiting for %s\n%s", what, logs.String())
		case <-deadline:
			t.Fatalf("no %s within %s\n%s", what, timeout, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var (
	sarGVRIntake = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
	secretsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// serviceAccountToken asks the API server for a token of the ServiceAccount
// (TokenRequest), as the kubelet does for the Job's pod.
func serviceAccountToken(t *testing.T, c *cluster, namespace, name string) string {
	t.Helper()
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenRequest",
		"metadata":   map[string]any{"name": name}, // the ServiceAccount: the subresource's URL takes it from here
		"spec":       map[string]any{"expirationSeconds": int64(600)},
	}}
	res, err := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).
		Namespace(namespace).Create(c.ctx, req, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", namespace, name, err)
	}
	tok, _, _ := unstructured.NestedString(res.Object, "status", "token")
	if tok == "" {
		t.Fatal("TokenRequest: no token")
	}
	return tok
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
