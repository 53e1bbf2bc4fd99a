package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Unit tests of the generated dashboards: the committed JSON is what the
// generator writes, and every dashboard follows the conventions MeshWatch
// relies on (schema, uids, descriptions, datasource variables, links,
// layout). No servers needed.

func TestCommittedJSONIsGenerated(t *testing.T) {
	for _, f := range Files() {
		want, err := f.Dashboard.JSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Fatalf("%v (run `go run ./dashboards/gen`)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s is not what the generator writes: run `go run ./dashboards/gen` and commit the result", f.Name)
		}
	}
	// No stray dashboards: every JSON file here is generated.
	files, _ := filepath.Glob("*.json")
	if len(files) != len(Files()) {
		t.Errorf("dashboards/ has %d JSON files, the generator writes %d: %v", len(files), len(Files()), files)
	}
}

func TestOverviewHasExactlyTwentyPanels(t *testing.T) {
	d := loadDashboard(t, "mesh-overview.json")
	rows, panels := 0, d.visualPanels()
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows++
		}
	}
	if len(panels) != 20 {
		var titles []string
		for _, p := range panels {
			titles = append(titles, p.Title)
		}
		t.Fatalf("mesh overview has %d panels (rows not counted), want exactly 20: %q", len(panels), titles)
	}
	t.Logf("mesh overview: 20 panels in %d rows", rows)
}

var allowedPanelTypes = map[string]bool{"timeseries": true, "stat": true, "table": true, "state-timeline": true, "logs": true}

// provisionedDatasources reads provisioning/datasources/meshwatch.yaml: the
// datasources by uid.
func provisionedDatasources(t *testing.T) map[string]struct{ Name, Type string } {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "provisioning", "datasources", "meshwatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct{ Name, UID, Type string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]struct{ Name, Type string }{}
	for _, ds := range f.Datasources {
		out[ds.UID] = struct{ Name, Type string }{ds.Name, ds.Type}
	}
	return out
}

func TestDashboardConventions(t *testing.T) {
	provisioned := provisionedDatasources(t)
	uids := map[string]string{}
	for _, f := range Files() {
		d := loadDashboard(t, f.Name)
		name := f.Name
		if d.SchemaVersion != 42 {
			t.Errorf("%s: schemaVersion %d, want 42 (Grafana 12.3+)", name, d.SchemaVersion)
		}
		if d.Revision < 1 {
			t.Errorf("%s: revision must be set (Grafana re-imports bundled dashboards on a revision change)", name)
		}
		if d.ID != nil {
			t.Errorf("%s: id must be null", name)
		}
		if !regexp.MustCompile(`^meshwatch-[a-z-]+$`).MatchString(d.UID) || len(d.UID) > 40 {
			t.Errorf("%s: uid %q", name, d.UID)
		}
		if prev, ok := uids[d.UID]; ok {
			t.Errorf("%s: uid %s also used by %s", name, d.UID, prev)
		}
		uids[d.UID] = name
		if d.Description == "" || !contains(d.Tags, "meshwatch") {
			t.Errorf("%s: needs a description and the meshwatch tag", name)
		}

		// Datasource variables for Prometheus, Loki and Tempo.
		vars := map[string]Variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		for name2, typ := range map[string]string{"datasource": "prometheus", "loki": "loki", "tempo": "tempo"} {
			v, ok := vars[name2]
			if !ok || v.Type != "datasource" || v.Query != typ {
				t.Errorf("%s: datasource variable %s of type %s missing", name, name2, typ)
				continue
			}
			// Its default is the datasource of that type that provisioning
			// (and deploy/) creates, by uid.
			if ds, ok := provisioned[fmt.Sprint(v.Current["value"])]; !ok || ds.Type != typ || v.Current["text"] != ds.Name {
				t.Errorf("%s: datasource variable %s defaults to %v, want a provisioned %s datasource (%v)", name, name2, v.Current, typ, provisioned)
			}
		}
		if _, ok := vars["namespace"]; !ok {
			t.Errorf("%s: no namespace variable", name)
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
				t.Errorf("%s: variable %s does not query through ${datasource}", name, v.Name)
			}
			// All is .* (a cheap regex), except for hidden helper variables
			// whose point is to expand to the list of their values.
			if v.IncludeAll && v.AllValue != ".*" && v.Hide != 2 {
				t.Errorf("%s: variable %s: All must be .* (not a list of every value)", name, v.Name)
			}
		}

		// Links to every other MeshWatch dashboard carry variables and time.
		linked := map[string]bool{}
		for _, l := range d.Links {
			if !l.IncludeVars || !l.KeepTime {
				t.Errorf("%s: link %q must set includeVars and keepTime", name, l.Title)
			}
			linked[strings.TrimPrefix(l.URL, "/d/")] = true
		}
		for _, other := range Files() {
			if other.Dashboard.UID != d.UID && !linked[other.Dashboard.UID] {
				t.Errorf("%s: no link to %s", name, other.Dashboard.UID)
			}
		}

		// Panels.
		ids := map[int]bool{}
		var occupied [200][24]string
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id %d", name, p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if g.X < 0 || g.W < 1 || g.X+g.W > 24 || g.H < 1 || g.Y+g.H > len(occupied) {
				t.Errorf("%s: %q off the grid: %+v", name, p.Title, g)
				continue
			}
			for y := g.Y; y < g.Y+g.H; y++ {
				for x := g.X; x < g.X+g.W; x++ {
					if occupied[y][x] != "" {
						t.Errorf("%s: %q overlaps %q", name, p.Title, occupied[y][x])
					}
					occupied[y][x] = p.Title
				}
			}
			if p.Type == "row" {
				continue
			}
			if !allowedPanelTypes[p.Type] {
				t.Errorf("%s: %q has panel type %s", name, p.Title, p.Type)
			}
			if len(strings.Fields(p.Description)) < 8 {
				t.Errorf("%s: %q needs a real description (it feeds Explain this panel)", name, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: %q has no queries", name, p.Title)
			}
			if p.Type != "logs" && p.Type != "state-timeline" && p.Type != "table" && p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: %q has no unit", name, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if refs[tg.RefID] {
					t.Errorf("%s: %q: duplicate refId %s", name, p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				want := map[string]string{"prometheus": "${datasource}", "loki": "${loki}"}[tg.Datasource.Type]
				if want == "" || tg.Datasource.UID != want {
					t.Errorf("%s: %q: query datasource %+v must be a datasource variable", name, p.Title, tg.Datasource)
				}
				if strings.Contains(tg.Expr, "\n") || strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: %q: query %q", name, p.Title, tg.Expr)
				}
				if tg.Datasource.Type == "prometheus" && strings.Contains(tg.Expr, "rate(") && !strings.Contains(tg.Expr, "$__rate_interval") {
					t.Errorf("%s: %q: rates must use $__rate_interval: %s", name, p.Title, tg.Expr)
				}
			}
			// Grafana 12.3's v42 migration hides viz-hidden series from tooltips;
			// a dashboard at v42 must already do so.
			b, _ := json.Marshal(p.FieldConfig)
			if strings.Contains(string(b), `"viz":true`) && !strings.Contains(string(b), `"tooltip":true`) {
				t.Errorf("%s: %q hides a series from the viz but not from the tooltip", name, p.Title)
			}
		}
	}
}

// Global views must count each request once in sidecar and ambient mode,
// and mTLS is only read where the label is populated.
func TestMeshQueriesWorkInSidecarAndAmbientMode(t *testing.T) {
	d := loadDashboard(t, "mesh-overview.json")
	for _, p := range d.visualPanels() {
		for _, tg := range p.Targets {
			e := tg.Expr
			if tg.Datasource.Type != "prometheus" || !strings.Contains(e, "istio_request") {
				continue
			}
			if strings.Contains(e, "connection_security_policy") && !strings.Contains(p.Title, "source and code") {
				if !strings.Contains(e, `reporter="destination"`) {
					t.Errorf("%q reads mTLS outside the destination reporter: %s", p.Title, e)
				}
				continue
			}
			if !strings.Contains(e, `reporter=~"source|waypoint"`) && !strings.Contains(e, `reporter=~"destination|waypoint"`) &&
				!strings.Contains(p.Title, "Canary") {
				t.Errorf("%q: a mesh view must select reporter=~\"source|waypoint\" (or destination|waypoint): %s", p.Title, e)
			}
		}
	}
}

// plugin.json ships every dashboard (the overview in the nav), and the file
// provider provisions the same folder.
func TestPluginJSONAndProvisioning(t *testing.T) {
	b, err := os.ReadFile("../plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var pj struct {
		Includes []struct {
			Type, Name, Path, UID string
			AddToNav              bool `json:"addToNav"`
		} `json:"includes"`
	}
	if err := json.Unmarshal(b, &pj); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files() {
		found := false
		for _, in := range pj.Includes {
			if in.Type == "dashboard" && in.Path == "dashboards/"+f.Name {
				found = true
				if in.UID != f.Dashboard.UID || in.Name != f.Title || in.AddToNav != f.AddToNav {
					t.Errorf("plugin.json include for %s: %+v, want uid %s name %q addToNav %v", f.Name, in, f.Dashboard.UID, f.Title, f.AddToNav)
				}
			}
		}
		if !found {
			t.Errorf("plugin.json has no dashboard include for dashboards/%s", f.Name)
		}
	}
	prov, err := os.ReadFile("../provisioning/dashboards/meshwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"type: file", "path: /etc/grafana/meshwatch-dashboards", "foldersFromFilesStructure: false"} {
		if !strings.Contains(string(prov), want) {
			t.Errorf("provisioning/dashboards/meshwatch.yaml lacks %q", want)
		}
	}
}
