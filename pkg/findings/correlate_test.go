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
	cases[2].Scope = []evidence.Neighbour{{Workload: ref("web"), Role: evidence.RoleCaller}, {Workload: ref("stock"), Role: evidence.RoleCallee}}
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

// The root's own pack sees it best: a caller's pack that has it only two
// calls away cannot tell what it is.
func TestCorrelateTakesTheRootsOwnView(t *testing.T) {
	far := caseOf("web", tFrom, fnd("reco", UpstreamDependency, 0.9))
	far.Scope = []evidence.Neighbour{{Workload: ref("api"), Role: evidence.RoleCallee}, {Workload: ref("reco"), Role: evidence.RoleCallee, Via: "api"}}
	own := caseOf("reco", tFrom, fnd("reco", ErrorRegression, 0.85))
	gs := Correlate([]Case{far, own})
	if len(gs) != 1 || gs[0].Top.Cause != ErrorRegression || gs[0].Members[0] != 1 {
		t.Fatalf("%+v", gs)
	}
	// A pack that has the root as a direct neighbour sees as well as its own.
	near := caseOf("api", tFrom, fnd("reco", ErrorRegression, 0.9))
	near.Scope = []evidence.Neighbour{{Workload: ref("reco"), Role: evidence.RoleCallee}}
	gs = Correlate([]Case{far, own, near})
	if len(gs) != 1 || gs[0].Top.Score != 0.9 || gs[0].Top.Cause != ErrorRegression {
		t.Fatalf("%+v", gs)
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
