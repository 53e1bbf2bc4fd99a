package eval

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

func TestEveryScenarioTruthMapsToTheVocabulary(t *testing.T) {
	for _, sc := range simulator.Scenarios() {
		for _, f := range sc.Truth.Faults() {
			if _, err := CauseOf(f.CauseClass); err != nil {
				t.Errorf("%s: %v", sc.Name, err)
			}
		}
	}
	if c, _ := CauseOf("oom-killed"); c != findings.AppMemoryOOM {
		t.Errorf("oom-killed → %s", c)
	}
	if _, err := CauseOf("gremlins"); err == nil {
		t.Error("an unknown class maps")
	}
}

var t0 = time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC)

// samples at every minute offset listed.
func samples(mins ...int) []model.SamplePair {
	var out []model.SamplePair
	for _, m := range mins {
		out = append(out, model.SamplePair{Timestamp: model.TimeFromUnix(t0.Add(time.Duration(m) * time.Minute).Unix()), Value: 1})
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for m := from; m <= to; m++ {
		out = append(out, m)
	}
	return out
}

func TestEpisode(t *testing.T) {
	end := t0.Add(60 * time.Minute)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, c := range []struct {
		name   string
		mins   []int
		hold   time.Duration
		fired  bool
		starts time.Time
		ends   time.Time // zero: still firing
	}{
		{"true to the end, held", span(20, 60), 5 * time.Minute, true, at(25), time.Time{}},
		{"too short to fire", span(56, 60), 5 * time.Minute, false, time.Time{}, time.Time{}},
		{"fired and resolved", span(10, 30), 5 * time.Minute, true, at(15), at(31)},
		{"for 0 fires at once", []int{40}, 0, true, at(40), at(41)},
		{"flapped: first fire, last resolution", append(span(10, 20), span(40, 50)...), 5 * time.Minute, true, at(15), at(51)},
		{"fired, then pending again at the end", append(span(10, 20), 58, 59, 60), 5 * time.Minute, true, at(15), at(21)},
	} {
		a, ok := episode(samples(c.mins...), time.Minute, c.hold, end)
		if ok != c.fired {
			t.Errorf("%s: fired %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if !a.StartsAt.Equal(c.starts) || !a.EndsAt.Equal(c.ends) {
			t.Errorf("%s: starts %s ends %s; want %s, %s", c.name, a.StartsAt, a.EndsAt, c.starts, c.ends)
		}
		if want := incident.StatusFiring; c.ends.IsZero() != (a.Status == want) {
			t.Errorf("%s: status %s", c.name, a.Status)
		}
	}
}

func TestIncidentsGroupAsMeshWatchDoes(t *testing.T) {
	mk := func(name string, labels map[string]string) incident.Alert {
		labels["alertname"] = name
		return incident.Alert{Labels: labels, StartsAt: t0}
	}
	incs := Incidents([]incident.Alert{
		mk("A", map[string]string{"namespace": "shop", "workload": "api"}),
		mk("B", map[string]string{"namespace": "shop", "pod": "api-6c9f8d7b5c-x2x4q"}),
		mk("C", map[string]string{"namespace": "istio-system", "workload": "istiod"}),
	})
	if len(incs) != 2 || incs[0].Key.Workload != "istiod" || len(incs[1].Alerts) != 2 {
		t.Fatalf("%+v", incs)
	}
}

func fnd(ns, wl string, c findings.Cause, s float64) findings.Finding {
	return findings.Finding{Namespace: ns, Workload: wl, Cause: c, Score: s, Evidence: []string{"x"}}
}

func TestScoreIsTopOnePerFault(t *testing.T) {
	leak := Fault{Namespace: "data", Workload: "geo", Cause: findings.SidecarMemoryLeak}
	oom := Fault{Namespace: "trips", Workload: "fares", Cause: findings.AppMemoryOOM}
	groups := []findings.Group{
		{Top: fnd("trips", "fares", findings.AppMemoryOOM, 0.92), Members: []int{0}},
		{Top: fnd("trips", "flights", findings.ErrorRegression, 0.7), Members: []int{1}},
		{Top: fnd("data", "geo", findings.SidecarMemoryLeak, 0.6), Members: []int{2}},
	}
	res := Result{Faults: []Fault{leak, oom}, Groups: groups}
	res.Matched, res.Quiet = score(res)
	// Two faults: the two highest groups count; geo's leak ranks third.
	if res.Matched[0] != -1 || res.Matched[1] != 0 {
		t.Fatalf("matched %v", res.Matched)
	}
	if p, n := res.Passed(); p != 1 || n != 2 {
		t.Errorf("passed %d/%d", p, n)
	}
	if tops := res.Tops(); tops[0].Workload != "flights" || tops[1].Workload != "fares" {
		t.Errorf("tops %v", tops)
	}
	res.Groups[1], res.Groups[2] = res.Groups[2], res.Groups[1]
	res.Matched, _ = score(res)
	if p, _ := res.Passed(); p != 2 {
		t.Errorf("both faults in the top two: passed %d", p)
	}
	// A wrong cause on the right workload is a miss.
	res = Result{Faults: []Fault{oom}, Groups: []findings.Group{{Top: fnd("trips", "fares", findings.Crashloop, 0.9), Members: []int{0}}}}
	res.Matched, _ = score(res)
	if p, _ := res.Passed(); p != 0 {
		t.Error("wrong cause passed")
	}
}

func TestControlRunPassesOnlyQuiet(t *testing.T) {
	quiet := Result{Incidents: []Incident{{Probe: true, Pack: evidence.Pack{}}}}
	quiet.Matched, quiet.Quiet = score(quiet)
	if p, n := quiet.Passed(); p != 1 || n != 1 {
		t.Errorf("quiet control run: %d/%d", p, n)
	}
	noisy := Result{Incidents: []Incident{{Probe: true, Findings: []findings.Finding{fnd("shop", "api", findings.LatencyRegression, 0.55)}}}}
	noisy.Matched, noisy.Quiet = score(noisy)
	if p, _ := noisy.Passed(); p != 0 {
		t.Error("a control run with a finding passed")
	}
	if tops := noisy.Tops(); tops[0].Workload != "api" {
		t.Errorf("tops %v", tops)
	}
}

// The scenarios of a mesh none of MeshWatch's built-in ones has (namespaces
// media, media-data and ml, other names, a StatefulSet, the canary on
// streams), for meshwatch eval --scenario-file: they stay valid and their
// truth maps to the vocabulary.
func TestUnseenScenariosParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "unseen", "*.yaml"))
	if len(files) < 8 {
		t.Fatalf("%d unseen scenarios", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := simulator.ParseScenario(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := simulator.LookupScenario(sc.Name); err == nil {
			t.Errorf("%s: %s is a built-in scenario's name", f, sc.Name)
		}
		for _, fl := range sc.Truth.Faults() {
			if _, err := CauseOf(fl.CauseClass); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}
