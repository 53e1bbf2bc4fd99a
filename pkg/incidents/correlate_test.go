package incidents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

func wl(name string) evidence.Workload { return evidence.Workload{Namespace: "shop", Workload: name} }

func callee(name string) evidence.Neighbour {
	return evidence.Neighbour{Workload: wl(name), Role: evidence.RoleCallee}
}

func caller(name string) evidence.Neighbour {
	return evidence.Neighbour{Workload: wl(name), Role: evidence.RoleCaller}
}

func blameOf(name string, c findings.Cause, score float64) findings.Finding {
	return findings.Finding{Namespace: "shop", Workload: name, Cause: c, Score: score, Explanation: string(c), Evidence: []string{"m1"}}
}

// cand is incident id on workload subject, its onset at minutes after
// started, its pack's window reaching five minutes back.
func cand(id int64, subject string, minutes int, scope []evidence.Neighbour, fs ...findings.Finding) Candidate {
	onset := started.Add(time.Duration(minutes) * time.Minute)
	return Candidate{ID: id, Onset: onset, Case: findings.Case{Subject: wl(subject),
		Window: evidence.Window{From: onset.Add(-evidence.MinWindowLead), To: onset.Add(time.Minute)}, Scope: scope, Findings: fs}}
}

var groupNow = started.Add(time.Hour)

func groups(r incident.Regrouping) string {
	out := ""
	for _, g := range r.Groups {
		out += fmt.Sprintf("%d<-%v ", g.Root, g.Members)
	}
	return out
}

// Callers of a slow workload, neighbours in the request graph, alerting
// within one evidence window: one fault, the slow workload's incident the
// root, whatever order they come in.
func TestCorrelateMergesNeighboursWithinOneWindow(t *testing.T) {
	cs := []Candidate{
		cand(3, "web", 2, []evidence.Neighbour{callee("api"), {Workload: wl("stock"), Role: evidence.RoleCallee, Via: "api"}},
			blameOf("api", findings.UpstreamDependency, 0.6)),
		cand(1, "stock", 0, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.TimeoutCascade, 0.85)),
		cand(2, "api", 1, []evidence.Neighbour{caller("web"), callee("stock")}, blameOf("stock", findings.TimeoutCascade, 0.9)),
	}
	r := Correlate(cs, groupNow)
	if got := groups(r); got != "1<-[2 3] " {
		t.Fatalf("groups %s", got)
	}
	if len(r.Scope) != 3 || r.Groups[0].Reason == "" {
		t.Errorf("scope %v reason %q", r.Scope, r.Groups[0].Reason)
	}
}

// A chain: web blames api, api blames stock, stock itself; the blame is
// followed to the end of the chain.
func TestCorrelateFollowsAChain(t *testing.T) {
	cs := []Candidate{
		cand(1, "web", 0, []evidence.Neighbour{callee("api")}, blameOf("api", findings.UpstreamDependency, 0.7)),
		cand(2, "api", 0, []evidence.Neighbour{caller("web"), callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7)),
		cand(3, "stock", 1, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.ErrorRegression, 0.8)),
	}
	if got := groups(Correlate(cs, groupNow)); got != "3<-[1 2] " {
		t.Fatalf("groups %s", got)
	}
}

// Two unrelated faults at once stay two incidents; an incident with no
// finding stays alone.
func TestCorrelateKeepsTwoFaultsApart(t *testing.T) {
	cs := []Candidate{
		cand(1, "stock", 0, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.ErrorRegression, 0.8)),
		cand(2, "api", 0, []evidence.Neighbour{callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7)),
		cand(3, "orders", 1, []evidence.Neighbour{callee("payments")}, blameOf("orders", findings.Crashloop, 0.9)),
		cand(4, "payments", 1, []evidence.Neighbour{caller("orders")}),
	}
	if got := groups(Correlate(cs, groupNow)); got != "1<-[2] " {
		t.Fatalf("groups %s", got)
	}
}

// Onsets further apart than one evidence window are two faults, even if
// the blame meets; a longer rule `for` (a window reaching further back)
// widens what counts as one.
func TestCorrelateNeedsOnsetsWithinOneWindow(t *testing.T) {
	root := cand(1, "stock", 0, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.ErrorRegression, 0.8))
	late := cand(2, "api", 40, []evidence.Neighbour{callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7))
	if got := groups(Correlate([]Candidate{root, late}, groupNow)); got != "" {
		t.Fatalf("40 minutes apart with 5-minute windows: %s", got)
	}
	late.Case.Window.From = late.Onset.Add(-45 * time.Minute) // its rule holds `for` 45m
	if got := groups(Correlate([]Candidate{root, late}, groupNow)); got != "1<-[2] " {
		t.Fatalf("within the late alert's window: %s", got)
	}
}

// A blame outside the pack's scope that cites no evidence ties nothing;
// one that cites the pack's evidence does (istiod's pack holds the rejects
// of a proxy's configuration: no request links them). When the blamed
// workload has no incident of its own, the root incident is the member
// whose pack sees it best.
func TestCorrelateNeighboursAndTheRootIncident(t *testing.T) {
	uncited := blameOf("ledger", findings.ErrorRegression, 0.8)
	uncited.Evidence = nil
	stray := cand(1, "web", 0, []evidence.Neighbour{callee("api")}, uncited)
	other := cand(2, "cart", 0, []evidence.Neighbour{callee("ledger")}, blameOf("ledger", findings.ErrorRegression, 0.8))
	if got := groups(Correlate([]Candidate{stray, other}, groupNow)); got != "" {
		t.Fatalf("an uncited blame outside the pack's scope merged: %s", got)
	}
	istiod := cand(7, "istiod", 0, nil, blameOf("recommend", findings.ControlPlaneRejects, 0.85))
	istiod.Case.Subject = evidence.Workload{Namespace: "istio-system", Workload: "istiod"}
	proxy := cand(8, "recommend", 1, []evidence.Neighbour{caller("web")}, blameOf("recommend", findings.ControlPlaneRejects, 0.85))
	if got := groups(Correlate([]Candidate{istiod, proxy}, groupNow)); got != "8<-[7] " {
		t.Fatalf("the control plane's rejects of one proxy: %s", got)
	}
	far := cand(1, "web", 0, []evidence.Neighbour{callee("api"), {Workload: wl("db"), Role: evidence.RoleCallee, Via: "api"}},
		blameOf("db", findings.UpstreamDependency, 0.7))
	near := cand(5, "api", 2, []evidence.Neighbour{caller("web"), callee("db")}, blameOf("db", findings.ErrorRegression, 0.8))
	if got := groups(Correlate([]Candidate{far, near}, groupNow)); got != "5<-[1] " {
		t.Fatalf("root incident: %s (want api's, whose pack has db as a direct neighbour)", got)
	}
}

// Undo: once later evidence ties a member to a fault of its own, the
// grouping leaves it out and the store's plan splits it off its root.
func TestCorrelateSplitWhenEvidenceChanges(t *testing.T) {
	stock := cand(1, "stock", 0, []evidence.Neighbour{caller("api"), caller("web")}, blameOf("stock", findings.ErrorRegression, 0.8))
	api := cand(2, "api", 1, []evidence.Neighbour{callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7))
	web := cand(3, "web", 1, []evidence.Neighbour{callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7))
	first := Correlate([]Candidate{stock, api, web}, groupNow)
	current := map[int64]int64{1: 0, 2: 0, 3: 0}
	set, _, err := incident.PlanRegroup(current, first, groupNow)
	if err != nil {
		t.Fatal(err)
	}
	for id, to := range set {
		current[id] = to
	}
	api.Case.Findings = []findings.Finding{blameOf("api", findings.Crashloop, 0.9)}
	second := Correlate([]Candidate{stock, api, web}, groupNow.Add(time.Minute))
	_, events, err := incident.PlanRegroup(current, second, groupNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != incident.MergeKindSplit || events[0].Root != 1 || fmt.Sprint(events[0].Members) != "[2]" {
		t.Fatalf("events %+v", events)
	}
}

// faultCapture is a capture as pkg/evidence and pkg/findings write it,
// for a mesh where web and api call stock: stock's latency makes its
// callers time out, unless api crashes on its own (apiCrashes).
type faultCapture struct {
	mu         sync.Mutex
	apiCrashes bool
}

func (f *faultCapture) capture(_ context.Context, inc incident.Incident, _ []incident.Record, now time.Time) (incident.Evidence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pack := evidence.Pack{Incident: inc.ID, Subject: evidence.Workload{Namespace: inc.Key.Namespace, Workload: inc.Key.Workload},
		Window: evidence.Window{From: inc.StartedAt.Add(-evidence.MinWindowLead), To: now}, CapturedAt: now}
	var fs []findings.Finding
	switch inc.Key.Workload {
	case "stock":
		pack.Scope = []evidence.Neighbour{caller("api"), caller("web")}
		fs = []findings.Finding{blameOf("stock", findings.TimeoutCascade, 0.85)}
	case "api", "web":
		pack.Scope = []evidence.Neighbour{callee("stock")}
		fs = []findings.Finding{blameOf("stock", findings.TimeoutCascade, 0.8)}
		if inc.Key.Workload == "api" && f.apiCrashes {
			fs = []findings.Finding{blameOf("api", findings.Crashloop, 0.9)}
		}
	case "orders":
		pack.Scope = []evidence.Neighbour{callee("payments")}
		fs = []findings.Finding{blameOf("orders", findings.Crashloop, 0.9)}
	}
	p, _ := json.Marshal(pack)
	fj, _ := json.Marshal(fs)
	return incident.Evidence{CapturedAt: now, Pack: p, Findings: fj, TopFinding: fmt.Sprint(fs[0].Cause)}, nil
}

func shopAlert(name, workload string, minutes int) string {
	return amAlert("firing", map[string]string{"alertname": name, "namespace": "shop", "workload": workload, "severity": "critical"},
		started.Add(time.Duration(minutes)*time.Minute))
}

// Six alerts on three workloads, the callers of one slow workload, end as
// one row of the list: "6 alerts on 3 workloads", the slow workload named;
// its detail lists the affected incidents with their alerts and the
// recorded merge, a member's points to it. Later evidence that api crashes
// on its own splits api off again; an unrelated fault meanwhile stays its
// own row.
func TestAlertsOnCallersOfOneFaultEndAsOneRow(t *testing.T) {
	fc := &faultCapture{}
	var mu sync.Mutex
	now := started.Add(10 * time.Minute)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	in := newInstance(t, Options{Capture: fc.capture, CaptureEvery: time.Minute, Every: time.Hour, Now: clock})
	code, body := in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(
		shopAlert("LatencyHigh", "stock", 0), shopAlert("ErrorRatioHigh", "stock", 1),
		shopAlert("LatencyHigh", "api", 1), shopAlert("ErrorRatioHigh", "api", 2),
		shopAlert("LatencyHigh", "web", 2), shopAlert("ErrorRatioHigh", "web", 3)))
	if code != http.StatusOK || len(body["incidents"].([]any)) != 3 {
		t.Fatalf("intake: %d %v", code, body)
	}
	ctx := context.Background()
	in.svc.CaptureDue(ctx)
	if _, err := in.svc.GroupOnce(ctx); err != nil {
		t.Fatal(err)
	}
	_, list := in.call(t, viewer, http.MethodGet, RouteIncidents, "")
	rows := list["incidents"].([]any)
	if len(rows) != 1 {
		t.Fatalf("the list has %d rows, want one: %v", len(rows), rows)
	}
	row := rows[0].(map[string]any)
	if row["key"].(map[string]any)["workload"] != "stock" || row["groupAlerts"] != 6.0 || row["groupWorkloads"] != 3.0 {
		t.Fatalf("the row: %v", row)
	}
	rootID := int64(row["id"].(float64))
	f := in.svc.frame(ctx)
	ga, _ := f.FieldByName(FieldGroupAlerts)
	gw, _ := f.FieldByName(FieldGroupWorkloads)
	if f.Rows() != 1 || ga == nil || gw == nil || ga.At(0) != int64(6) || gw.At(0) != int64(3) {
		t.Errorf("the live frame: %d rows, group fields %v %v", f.Rows(), ga, gw)
	}
	_, detail := in.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/%d", RouteIncidents, rootID), "")
	affected, _ := detail["affected"].([]any)
	if len(affected) != 2 || len(detail["merges"].([]any)) != 1 {
		t.Fatalf("root detail: affected %v merges %v", detail["affected"], detail["merges"])
	}
	member := affected[0].(map[string]any)
	if len(member["alerts"].([]any)) != 2 {
		t.Errorf("an affected incident's alerts: %v", member["alerts"])
	}
	memberID := int64(member["incident"].(map[string]any)["id"].(float64))
	_, md := in.call(t, viewer, http.MethodGet, fmt.Sprintf("%s/%d", RouteIncidents, memberID), "")
	if md["incident"].(map[string]any)["mergedInto"] != float64(rootID) {
		t.Errorf("the member's detail: %v", md["incident"])
	}

	// Later: api crashes on its own, and orders fails, unrelated.
	fc.mu.Lock()
	fc.apiCrashes = true
	fc.mu.Unlock()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(shopAlert("PodCrashLooping", "orders", 11)))
	in.svc.CaptureDue(ctx)
	events, err := in.svc.GroupOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, list = in.call(t, viewer, http.MethodGet, RouteIncidents, "")
	got := map[string]string{}
	for _, r := range list["incidents"].([]any) {
		r := r.(map[string]any)
		got[r["key"].(map[string]any)["workload"].(string)] = fmt.Sprintf("%v on %v", r["groupAlerts"], r["groupWorkloads"])
	}
	if fmt.Sprint(got) != "map[api:2 on 1 orders:1 on 1 stock:4 on 2]" {
		t.Errorf("rows after the split: %v (events %+v)", got, events)
	}
}

// Faults holds every candidate once, the root incident first, the groups
// ranked by their top finding (what eval scores top-1 against).
func TestFaultsHoldEveryIncidentOnceRanked(t *testing.T) {
	cs := []Candidate{
		cand(1, "api", 0, []evidence.Neighbour{callee("stock")}, blameOf("stock", findings.UpstreamDependency, 0.7)),
		cand(2, "payments", 1, []evidence.Neighbour{caller("orders")}),
		cand(3, "stock", 0, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.ErrorRegression, 0.8)),
		cand(4, "orders", 1, []evidence.Neighbour{callee("payments")}, blameOf("orders", findings.Crashloop, 0.9)),
		cand(5, "stock", 300, []evidence.Neighbour{caller("api")}, blameOf("stock", findings.ErrorRegression, 0.6)),
	}
	gs := Faults(cs, groupNow.Add(5*time.Hour))
	got := ""
	seen := map[int]int{}
	for _, g := range gs {
		got += fmt.Sprintf("%s:%v ", g.Root.Workload, g.Members)
		for _, i := range g.Members {
			seen[i]++
		}
	}
	if got != "orders:[3] stock:[2 0] stock:[4] payments:[1] " {
		t.Errorf("faults %s", got)
	}
	if len(seen) != len(cs) {
		t.Errorf("candidates grouped: %v", seen)
	}
}

// The frame's row of a group counts the group and shows its most severe
// severity; an incident on its own shows its own.
func TestFrameRowsOfAGroup(t *testing.T) {
	root := incident.Incident{ID: 1, Key: incident.Key{Namespace: "shop", Workload: "cart"}, State: incident.StateOpen, Severity: "warning",
		Alerts: 1, Firing: 1, Merge: incident.Merge{Affected: []int64{2}, GroupAlerts: 3, GroupFiring: 3, GroupWorkloads: 2, GroupSeverity: "critical"}}
	alone := incident.Incident{ID: 3, Key: incident.Key{Namespace: "shop", Workload: "orders"}, State: incident.StateOpen, Severity: "info", Alerts: 2}
	f := Frame([]incident.Incident{root, alone})
	sev, _ := f.FieldByName(FieldSeverity)
	ga, _ := f.FieldByName(FieldGroupAlerts)
	gw, _ := f.FieldByName(FieldGroupWorkloads)
	if sev.At(0) != "critical" || ga.At(0) != int64(3) || gw.At(0) != int64(2) {
		t.Errorf("the group's row: %v %v %v", sev.At(0), ga.At(0), gw.At(0))
	}
	if sev.At(1) != "info" || ga.At(1) != int64(2) || gw.At(1) != int64(1) {
		t.Errorf("the row of an incident on its own: %v %v %v", sev.At(1), ga.At(1), gw.At(1))
	}
}
