package signoff_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
	"github.com/meshwatch/meshwatch/pkg/signoff"
)

// buildPlugin compiles ./pkg the way mage does (CGO off, the SDK's build
// tag and build info).
func buildPlugin(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "gpx_mesh_test")
	info := `{"pluginID":"meshwatch-mesh-app","version":"9.9.9-test"}`
	cmd := exec.Command("go", "build", "-tags", "arrow_json_stdlib", "-o", exe,
		"-ldflags", "-X 'github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON="+info+"'", "../")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin binary: %v\n%s", err, out)
	}
	return exe
}

// TestRoleMatrixOverTheProtocol drives the plugin binary over Grafana's
// plugin protocol (go-plugin, gRPC) as Grafana does, with the caller in the
// plugin context as Grafana fills it in: a Viewer, an Editor, an Admin, and
// the intake's service account, across every sign-off route that changes
// something, then the Admin-only ones. Denied callers get 403 with a reason
// and leave no trace in the audit trail; the rest reach the decision
// service (a decision, a refused execution of an unapproved step, a gate).
func TestRoleMatrixOverTheProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the plugin binary")
	}
	dbPath := filepath.Join(t.TempDir(), "meshwatch.db")
	{ // The suggestions an analysis proposed, as the analysis worker will.
		st, err := sqlite.Open(context.Background(), dbPath, incident.Config{Rules: incident.DefaultRules})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signoff.NewService(st, nil, nil).Propose(context.Background(), suggestions()); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
	}
	p, err := pluginhost.Start(pluginhost.Options{Path: buildPlugin(t),
		Env: []string{"GF_VERSION=13.1.0", "GF_EDITION=oss", "GF_PLUGIN_VERSION=9.9.9-test", "GF_APP_URL=http://127.0.0.1:3000/"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)

	settingsAt := func(role string, updated int64) *backend.AppInstanceSettings {
		js := map[string]any{"storage": map[string]any{"path": dbPath}, "kubernetes": map[string]any{"mode": "disabled"}}
		if role != "" {
			js["signOff"] = map[string]any{"role": role}
		}
		raw, _ := json.Marshal(js)
		return &backend.AppInstanceSettings{JSONData: raw, Updated: time.Unix(updated, 0)}
	}
	call := func(app *backend.AppInstanceSettings, u *backend.User, method, path string, body any) (int, string) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := p.CallResource(ctx, &backend.CallResourceRequest{
			PluginContext: backend.PluginContext{OrgID: 1, PluginID: "meshwatch-mesh-app", User: u, AppInstanceSettings: app,
				GrafanaConfig: backend.NewGrafanaCfg(map[string]string{"GF_APP_URL": "http://127.0.0.1:3000/"})},
			Path: strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "/"), Method: method, URL: "/api/plugins/meshwatch-mesh-app/resources" + path, Body: b,
		})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.Status, string(resp.Body)
	}

	users := []*backend.User{
		{Login: "vera", Name: "Vera Viewer", Role: "Viewer"},
		{Login: "sa-1-alertmanager", Name: "alertmanager", Role: "Editor"}, // an intake token, even with Editor
		{Login: "eddie", Name: "Eddie Editor", Role: "Editor"},
		{Login: "ada", Name: "Ada Admin", Role: "Admin"},
	}
	type route struct {
		method, path string
		body         func(u *backend.User) any
		admin        bool // Admin only (else: the sign-off role)
	}
	routes := []route{
		{"POST", "/signoff/suggestions/7:3:root/decision", func(u *backend.User) any {
			return signoff.DecideRequest{Decision: "reject", Version: 1, Comment: "checked by " + u.Login}
		}, false},
		{"POST", "/signoff/suggestions/7:3:2/execute", func(*backend.User) any { return signoff.ExecuteRequest{Version: 1} }, false},
		{"GET", "/signoff/audit/verify", nil, true},
		{"GET", "/signoff/audit/export?format=csv", nil, true},
		{"GET", "/signoff/incidents/7/scenario?analysis=3", nil, true},
	}
	app := settingsAt("", 1700000000)
	var table strings.Builder
	fmt.Fprintf(&table, "%-44s %-8s %-20s %-8s %-8s\n", "route", "Viewer", "sa-1-alertmanager", "Editor", "Admin")
	for _, rt := range routes {
		fmt.Fprintf(&table, "%-44s", rt.method+" "+strings.SplitN(rt.path, "?", 2)[0])
		for _, u := range users {
			var body any
			if rt.body != nil {
				body = rt.body(u)
			}
			code, resp := call(app, u, rt.method, rt.path, body)
			allowed := u.Role == "Admin" || (!rt.admin && u.Role == "Editor" && !strings.HasPrefix(u.Login, "sa-"))
			w := 8
			if strings.HasPrefix(u.Login, "sa-") {
				w = 20
			}
			fmt.Fprintf(&table, " %-*d", w, code)
			switch {
			case allowed && (code == 401 || code == 403):
				t.Errorf("%s (%s) %s %s: %d %s, want it allowed", u.Login, u.Role, rt.method, rt.path, code, resp)
			case !allowed && code != 403:
				t.Errorf("%s (%s) %s %s: %d %s, want 403", u.Login, u.Role, rt.method, rt.path, code, resp)
			case !allowed && !strings.Contains(resp, "needs the") && !strings.Contains(resp, "may not sign off"):
				t.Errorf("%s %s %s: the 403 does not say why: %s", u.Login, rt.method, rt.path, resp)
			}
		}
		table.WriteString("\n")
	}
	t.Logf("status by caller (signOff.role Editor):\n%s", table.String())

	// Everyone may read an incident's suggestions and trail.
	if code, body := call(app, users[0], "GET", "/signoff/incidents/7/suggestions", nil); code != 200 || !strings.Contains(body, `"status":"rejected"`) {
		t.Errorf("viewer reads the suggestions: %d %s", code, body)
	}
	// The trail: the Editor's rejection won (version 1); the Admin's came
	// second and got 409; no denied caller left an entry.
	code, body := call(app, users[3], "GET", "/signoff/audit/export?format=json", nil)
	var ex audit.Export
	if err := json.Unmarshal([]byte(body), &ex); code != 200 || err != nil {
		t.Fatalf("export: %d %v", code, err)
	}
	var who []string
	for _, e := range ex.Entries {
		if e.Actor.Login == "vera" || strings.HasPrefix(e.Actor.Login, "sa-") {
			t.Errorf("a denied caller's entry: %+v", e)
		}
		if e.Actor.Login != "meshwatch" {
			who = append(who, string(e.Action)+"/"+e.Actor.Login)
		}
	}
	want := "reject/eddie refuse/eddie refuse/ada"
	if strings.Join(who, " ") != want || !ex.Verdict.OK {
		t.Errorf("trail: %s (chain ok %v), want %s", strings.Join(who, " "), ex.Verdict.OK, want)
	}

	// Two Editors decide step 1 at once through the binary: one wins, the
	// other gets 409; the store (SQLite, kill -9 safe) holds the winner's.
	codes := make(chan int, 2)
	for i, who := range []string{"eddie", "erin"} {
		go func() {
			d := signoff.DecideRequest{Decision: []string{"approve", "reject"}[i], Version: 1, Comment: "race by " + who}
			code, _ := call(app, &backend.User{Login: who, Name: who, Role: "Editor"}, "POST", "/signoff/suggestions/7:3:1/decision", d)
			codes <- code
		}()
	}
	if a, b := <-codes, <-codes; a+b != 200+409 {
		t.Errorf("two concurrent decisions answered %d and %d, want one 200 and one 409", a, b)
	}

	// signOff.role Admin: now the Editor is refused too.
	strict := settingsAt("Admin", 1700000100)
	reject := signoff.DecideRequest{Decision: "reject", Version: 1, Comment: "not under a strict role"}
	code, body = call(strict, users[2], "POST", "/signoff/suggestions/7:3:2/decision", reject)
	if code != 403 || !strings.Contains(body, "needs the Admin role") {
		t.Errorf("Editor under signOff.role Admin: %d %s", code, body)
	}
	if code, body := call(strict, users[3], "POST", "/signoff/suggestions/7:3:2/decision", reject); code != 200 {
		t.Errorf("Admin under signOff.role Admin: %d %s", code, body)
	}
}
