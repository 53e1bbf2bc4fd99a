package signals

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
)

var idRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestCatalog(t *testing.T) {
	ids := map[ID]bool{}
	alerts := map[string]bool{}
	rules := 0
	for _, s := range All() {
		if !idRE.MatchString(string(s.ID)) || ids[s.ID] {
			t.Errorf("id %q: not kebab-case or not unique", s.ID)
		}
		ids[s.ID] = true
		if got, ok := Lookup(s.ID); !ok || got.ID != s.ID {
			t.Errorf("Lookup(%s) = %v, %v", s.ID, got.ID, ok)
		}
		if s.Title == "" || s.Description == "" || s.Unit == "" {
			t.Errorf("%s: title, description and unit are required", s.ID)
		}
		if len(s.Labels) < 2 || s.Labels[0] != "namespace" || s.Labels[1] != "workload" {
			t.Errorf("%s: labels %v must start with namespace, workload (what an incident is about)", s.ID, s.Labels)
		}
		// Every result is one series per subject: the expression keeps
		// exactly the signal's labels.
		if by := "max by (" + strings.Join(s.Labels, ", ") + ") ("; !strings.HasPrefix(s.Expr(), by) {
			t.Errorf("%s: expression does not start with %q:\n%s", s.ID, by, s.Expr())
		}
		if strings.Count(s.Expr(), "(") != strings.Count(s.Expr(), ")") {
			t.Errorf("%s: unbalanced parentheses:\n%s", s.ID, s.Expr())
		}
		if r := s.Rule; r != nil {
			rules++
			if alerts[r.Alert] || !strings.HasPrefix(r.Alert, "Mesh") {
				t.Errorf("%s: alert name %q not unique or not Mesh…", s.ID, r.Alert)
			}
			alerts[r.Alert] = true
			if r.Severity != "critical" && r.Severity != "warning" {
				t.Errorf("%s: severity %q", s.ID, r.Severity)
			}
			for k, v := range r.Annotations() {
				if v == "" {
					t.Errorf("%s: no %s annotation", s.ID, k)
				}
			}
			if !strings.HasPrefix(r.Dashboard.URL, "/d/"+r.Dashboard.UID+"?var-namespace={{ $labels.namespace }}") {
				t.Errorf("%s: dashboard URL %q does not open %s on the alert's namespace", s.ID, r.Dashboard.URL, r.Dashboard.UID)
			}
		}
	}
	if rules != 15 {
		t.Errorf("%d alert rules, want the 15 MeshWatch ships", rules)
	}
	// The catalog is about signals: its ids, titles, descriptions and
	// expressions name no alert (alert names only go into the rules file).
	for _, s := range All() {
		for a := range alerts {
			if strings.Contains(string(s.ID)+s.Title+s.Description+s.Expr(), a) {
				t.Errorf("%s mentions the alert %s outside its rule", s.ID, a)
			}
		}
	}
}

func TestParams(t *testing.T) {
	s := Get(WorkloadErrorRate)
	if s.Params.Threshold != 0.005 || s.Params.Window != 5*time.Minute || s.Params.Guard != (VolumeGuard{20, 15 * time.Minute}) {
		t.Errorf("error-rate params %+v", s.Params)
	}
	// ExprWith changes what it is given and keeps the rest.
	e := s.ExprWith(Params{Window: 2 * time.Minute, Guard: VolumeGuard{MinRequests: 5}})
	for _, want := range []string{`[2m]))`, `[15m])) >= 5`, `> 0.005`} {
		if !strings.Contains(e, want) {
			t.Errorf("ExprWith: no %q in\n%s", want, e)
		}
	}
	if strings.Contains(e, "[5m]") || s.Expr() == e {
		t.Errorf("ExprWith kept the catalog's window:\n%s", e)
	}
	l := Get(SidecarMemoryLeak).ExprWith(Params{Window: 30 * time.Minute})
	if !strings.Contains(l, `[30m], 24 * 3600)`) {
		t.Errorf("sidecar leak with a 30m fit:\n%s", l)
	}
	defer func() {
		if recover() == nil {
			t.Error("Get of an unknown id did not panic")
		}
	}()
	Get("no-such-signal")
}

// The rules file reads back as the catalog: YAML's folding and quoting
// keep every expression and annotation as it is.
func TestRulesFileReadsBackAsTheCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, RulesFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	read, err := promrules.ReadAlertRules(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []Signal
	for _, s := range All() {
		if s.Rule != nil {
			want = append(want, s)
		}
	}
	if len(read) != len(want) {
		t.Fatalf("the file has %d rules, the catalog %d", len(read), len(want))
	}
	groups := map[string]bool{}
	for i, r := range read {
		s, w := want[i], want[i].Rule
		if r.Alert != w.Alert || r.Group != w.Group || r.Interval != RuleInterval || r.For != w.For {
			t.Errorf("rule %d: %s in %s every %s for %s, want %s in %s every %s for %s", i,
				r.Alert, r.Group, r.Interval, r.For, w.Alert, w.Group, RuleInterval, w.For)
		}
		if i > 0 && r.Group != read[i-1].Group && groups[r.Group] {
			t.Errorf("group %s comes twice", r.Group)
		}
		groups[r.Group] = true
		if strings.TrimSuffix(r.Expr, "\n") != s.Expr() {
			t.Errorf("%s: expr reads back as\n%s\nwant\n%s", r.Alert, r.Expr, s.Expr())
		}
		if len(r.Labels) != 1 || r.Labels["severity"] != w.Severity {
			t.Errorf("%s: labels %v", r.Alert, r.Labels)
		}
		if len(r.Annotations) != len(w.Annotations()) {
			t.Errorf("%s: annotations %v", r.Alert, r.Annotations)
		}
		for k, v := range w.Annotations() {
			if r.Annotations[k] != v {
				t.Errorf("%s: %s reads back as\n%q\nwant\n%q", r.Alert, k, r.Annotations[k], v)
			}
		}
	}
}

func TestFolded(t *testing.T) {
	long := strings.Repeat("word ", 40) + "{{ $labels.namespace }}/{{ $labels.workload }} 2) end"
	got := folded(long, 0)
	for _, l := range strings.Split(got, "\n") {
		if len(l) > foldWidth || strings.HasPrefix(l, " ") || strings.HasSuffix(l, " ") ||
			strings.HasSuffix(l, "{{") || strings.HasSuffix(l, "2)") {
			t.Errorf("folded line %q", l)
		}
	}
	if strings.ReplaceAll(got, "\n", " ") != long {
		t.Errorf("folded text does not fold back")
	}
	for s, want := range map[string]string{"meshwatch-workload": "meshwatch-workload", "true": `"true"`, "1.5": `"1.5"`,
		"a: b": `"a: b"`, "{x}": `"{x}"`, `say "hi"`: `say "hi"`} {
		if got := scalar(s); got != want {
			t.Errorf("scalar(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestCommittedRulesAreGenerated: the committed rules file is what the
// catalog generates.
func TestCommittedRulesAreGenerated(t *testing.T) {
	path := filepath.Join("..", "..", filepath.FromSlash(RulesFilePath))
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `%s`)", err, RegenerateCommand)
	}
	if !bytes.Equal(got, RulesFile()) {
		t.Errorf("%s is not what the catalog of signals generates: run `%s` (or `go run ./pkg/signals/gen`) and commit the result",
			RulesFilePath, RegenerateCommand)
	}
}

// The catalog ships in the plugin binary and is read by the development
// kit: it depends on neither the kit nor Grafana's SDK.
func TestDependsOnNeitherDevkitNorSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/meshwatch/meshwatch/pkg/devkit") || strings.HasPrefix(p, "github.com/grafana/") ||
			(strings.HasPrefix(p, "github.com/meshwatch/meshwatch/") && p != "github.com/meshwatch/meshwatch/pkg/signals") {
			t.Errorf("pkg/signals depends on %s", p)
		}
	}
}
