package findings

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

func caseOf(subject string, from time.Time, fs ...Finding) Case {
	return Case{Subject: ref(subject), Window: evidence.Window{From: from, To: from.Add(40 * time.Minute)}, Findings: fs}
}

func fnd(w string, c Cause, score float64) Finding {
	r := ref(w)
	return Finding{Namespace: r.Namespace, Workload: r.Workload, Cause: c, Score: score, Explanation: string(c), Evidence: []string{"x"}}
}

func TestCorrelateOneFaultOneIncident(t *testing.T) {
	// The cascade: web's pack sees only api; api's and stock's see stock.
	cases := []Case{
		caseOf("web", tFrom, fnd("api", UpstreamDependency, 0.6)),
		caseOf("edge/gateway", tFrom, fnd("web", UpstreamDependency, 0.55)),
		caseOf("api", tFrom, fnd("stock", TimeoutCascade, 0.9), fnd("stock", LatencyRegression, 0.45)),
		caseOf("stock", tFrom.Add(2*time.Minute), fnd("stock", TimeoutCascade, 0.85)),
	}
	gs := Correlate(cases)
	if len(gs) != 1 {
		t.Fatalf("%d groups: %+v", len(gs), gs)
	}
	g := gs[0]
	if g.Root != ref("stock") || g.Top.Cause != TimeoutCascade || g.Top.Score != 0.9 {
		t.Errorf("root %s top %s", g.Root, g.Top)
	}
	if len(g.Members) != 4 || g.Members[0] != 3 {
		t.Errorf("members %v (the root's own incident first)", g.Members)
	}
}

func TestCorrelateKeepsTwoFaultsApart(t *testing.T) {
	cases := []Case{
		caseOf("api", tFrom, fnd("stock", ErrorRegression, 0.8)),
		caseOf("stock", tFrom, fnd("stock", ErrorRegression, 0.85)),
		caseOf("orders", tFrom, fnd("orders", Crashloop, 0.9)),
		// The same workload faulting again a day later is another incident.
		caseOf("stock", tFrom.Add(24*time.Hour), fnd("stock", ErrorRegression, 0.7)),
		// Nothing found: its own incident.
		caseOf("web", tFrom),
	}
	gs := Correlate(cases)
	if len(gs) != 4 {
		t.Fatalf("%d groups: %+v", len(gs), gs)
	}
	if gs[0].Root != ref("orders") || gs[1].Root != ref("stock") || len(gs[1].Members) != 2 {
		t.Errorf("groups %+v", gs)
	}
	if last := gs[3]; last.Root != ref("web") || last.Top.Cause != None {
		t.Errorf("quiet incident: %+v", last)
	}
}
