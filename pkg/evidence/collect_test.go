package evidence

import (
	"reflect"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

func TestRuleFor(t *testing.T) {
	rules := []v1.AlertingRule{
		{Name: "HighErrors", Duration: 300, Labels: model.LabelSet{"severity": "critical"}},
		{Name: "HighErrors", Duration: 900, Labels: model.LabelSet{"severity": "warning"}},
		{Name: "Leak", Duration: 1800, Labels: model.LabelSet{"severity": "warning"},
			Alerts: []*v1.Alert{{Labels: model.LabelSet{"alertname": "Leak", "severity": "warning", "pod": "a"}}}},
		{Name: "Leak", Duration: 3600, Labels: model.LabelSet{"severity": "warning"}},
		{Name: "NoLabels", Duration: 60},
	}
	for _, c := range []struct {
		labels map[string]string
		want   time.Duration
	}{
		{map[string]string{"alertname": "HighErrors", "severity": "critical", "workload": "x"}, 5 * time.Minute},
		{map[string]string{"alertname": "HighErrors", "severity": "warning"}, 15 * time.Minute},
		{map[string]string{"alertname": "HighErrors"}, 0},                                             // the rule's labels are not all there
		{map[string]string{"alertname": "Leak", "severity": "warning", "pod": "a"}, 30 * time.Minute}, // its active alert decides
		{map[string]string{"alertname": "Leak", "severity": "warning", "pod": "b"}, time.Hour},        // else the longest
		{map[string]string{"alertname": "NoLabels", "anything": "1"}, time.Minute},
		{map[string]string{"alertname": "GrafanaManaged"}, 0},
		{map[string]string{}, 0},
	} {
		if got := RuleFor(rules, c.labels); got != c.want {
			t.Errorf("%v: %v, want %v", c.labels, got, c.want)
		}
	}
	if RuleFor(nil, map[string]string{"alertname": "x"}) != 0 {
		t.Error("no rules")
	}
}

func TestStepFor(t *testing.T) {
	for _, c := range []struct{ span, want time.Duration }{
		{0, MinStep}, {10 * time.Minute, MinStep}, {25 * time.Minute, MinStep}, {26 * time.Minute, 30 * time.Second},
		{6 * time.Hour, 3*time.Minute + 45*time.Second}, {24 * time.Hour, 14*time.Minute + 30*time.Second},
	} {
		if got := stepFor(c.span); got != c.want || got%MinStep != 0 {
			t.Errorf("stepFor(%v) = %v, want %v", c.span, got, c.want)
		}
	}
	if promDuration(2*time.Minute) != "2m" || promDuration(90*time.Second) != "90s" {
		t.Error("promDuration")
	}
}

func TestScopeOf(t *testing.T) {
	w := func(ns, wl string) Workload { return Workload{ns, wl} }
	e := func(from, to Workload, svc string, vol float64) Edge {
		return Edge{From: from, To: to, Service: svc, Volume: vol}
	}
	gw, fe, api, inv, ord, pay, payP, db, ext := w("istio-system", "istio-ingressgateway"), w("shop", "frontend"), w("shop", "api"),
		w("shop", "inventory"), w("shop", "orders"), w("shop", "payments"), w("shop", "payments-primary"), w("shop", "orders-db"), w("shop", "unknown")
	graph := []Edge{
		e(gw, fe, "shop/frontend", 100), e(fe, api, "shop/api", 90), e(api, inv, "shop/inventory", 50), e(api, ord, "shop/orders", 40),
		e(api, payP, "shop/payments-primary", 20), e(api, pay, "shop/payments-canary", 5), e(ord, db, "shop/orders-db", 30),
		e(ext, api, "shop/api", 1),
	}
	role := func(ns []Neighbour) map[string]string {
		out := map[string]string{}
		for _, n := range ns {
			out[n.Workload.Workload] = string(n.Role) + "/" + n.Via
		}
		return out
	}
	if got, want := role(ScopeOf(api, graph)), map[string]string{
		"frontend": "caller/", "inventory": "callee/", "orders": "callee/", "payments-primary": "callee/", "payments": "callee/",
		"orders-db": "callee/orders",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("api: %v, want %v", got, want)
	}
	// Two hops down from frontend; the gateway in another namespace calls it.
	if got, want := role(ScopeOf(fe, graph)), map[string]string{
		"istio-ingressgateway": "caller/", "api": "callee/", "inventory": "callee/api", "orders": "callee/api",
		"payments-primary": "callee/api", "payments": "callee/api",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("frontend: %v, want %v", got, want)
	}
	// Flagger: the canary's primary is a version, and its neighbours count.
	got := ScopeOf(pay, graph)
	if r := role(got); r["payments-primary"] != "version/" || r["api"] != "caller/" || r["frontend"] != "" {
		t.Errorf("payments: %v", r)
	}
	if got[0].Role != RoleVersion {
		t.Errorf("versions first: %+v", got)
	}
	if r := role(ScopeOf(payP, graph)); r["payments"] != "version/" || r["api"] != "caller/" {
		t.Errorf("payments-primary: %v", r)
	}
	// Versions that serve one service (reviews-v1, reviews-v2).
	rv := []Edge{e(fe, w("shop", "reviews-v1"), "shop/reviews", 10), e(fe, w("shop", "reviews-v2"), "shop/reviews", 10),
		e(w("shop", "reviews-v2"), w("shop", "ratings"), "shop/ratings", 10)}
	if r := role(ScopeOf(w("shop", "reviews-v1"), rv)); r["reviews-v2"] != "version/" || r["frontend"] != "caller/" || r["ratings"] != "callee/" {
		t.Errorf("reviews-v1: %v", r)
	}
	// A workload both calling and called.
	both := []Edge{e(api, inv, "s/inv", 1), e(inv, api, "s/api", 1)}
	if r := role(ScopeOf(api, both)); r["inventory"] != "both/" {
		t.Errorf("both: %v", r)
	}
	// A direct edge wins over a second hop.
	if r := role(ScopeOf(api, append(graph, e(api, db, "shop/orders-db", 1)))); r["orders-db"] != "callee/" {
		t.Errorf("direct: %v", r)
	}
	// Nothing known: an empty scope; the cap keeps the busiest.
	if len(ScopeOf(w("x", "y"), graph)) != 0 || len(ScopeOf(api, nil)) != 0 {
		t.Error("unknown subject")
	}
	var star []Edge
	for i := range 30 {
		star = append(star, e(w("n", "c"+string(rune('a'+i))), api, "shop/api", float64(i)))
	}
	s := ScopeOf(api, star)
	if len(s) != MaxScope || s[0].Workload.Workload != "c"+string(rune('a'+29)) {
		t.Errorf("cap: %d %+v", len(s), s[0])
	}
}

func TestFromIncident(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inc := incident.Incident{ID: 9, Key: incident.Key{Namespace: "shop", Workload: "api"}, State: incident.StateResolved,
		StartedAt: at, ResolvedAt: at.Add(time.Hour)}
	recs := []incident.Record{{Alert: incident.Alert{Labels: map[string]string{"alertname": "A"}, StartsAt: at}}}
	got := FromIncident(inc, recs)
	if got.ID != 9 || got.Namespace != "shop" || got.Workload != "api" || !got.EndsAt.Equal(at.Add(time.Hour)) || len(got.Alerts) != 1 || !got.StartsAt.Equal(at) {
		t.Errorf("%+v", got)
	}
	inc.State = incident.StateOpen
	if FromIncident(inc, nil).EndsAt != (time.Time{}) {
		t.Error("an open incident has an end")
	}
}

func TestPromString(t *testing.T) {
	if got := promString(`a\.b"c`); got != `"a\\.b\"c"` {
		t.Errorf("%s", got)
	}
	if got := alternation([]string{"b.c", "a"}); got != `a|b\.c` {
		t.Errorf("%s", got)
	}
}

func TestCollectWithoutSources(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	inc := Incident{ID: 1, Namespace: "shop", Workload: "api", Alerts: []incident.Alert{{Labels: map[string]string{"alertname": "X"}, StartsAt: at.Add(-time.Minute)}}}
	p := Collect(t.Context(), Sources{}, inc, at)
	if len(p.Partial) != 1 || p.Partial[0].Source != SourcePrometheus || p.Subject != (Workload{"shop", "api"}) {
		t.Errorf("%+v", p)
	}
	if !p.Window.From.Equal(at.Add(-6*time.Minute)) || !p.Window.To.Equal(at) || p.Window.RuleFor != 0 {
		t.Errorf("window %+v", p.Window)
	}
	// No alerts: the incident's start; resolved: its end; a start after
	// the end: the 5 minutes before the end.
	p = Collect(t.Context(), Sources{}, Incident{StartsAt: at.Add(-time.Hour), EndsAt: at.Add(-30 * time.Minute)}, at)
	if !p.Window.From.Equal(at.Add(-65*time.Minute)) || !p.Window.To.Equal(at.Add(-30*time.Minute)) {
		t.Errorf("window %+v", p.Window)
	}
	p = Collect(t.Context(), Sources{}, Incident{StartsAt: at.Add(time.Hour)}, at)
	if !p.Window.To.Equal(at) || p.Window.Duration() != MinWindowLead {
		t.Errorf("window %+v", p.Window)
	}
}

func TestByCode(t *testing.T) {
	ser := func(code, flags string, vals ...float64) *model.SampleStream {
		s := &model.SampleStream{Metric: model.Metric{"destination_workload_namespace": "shop", "destination_workload": "api",
			"response_code": model.LabelValue(code), "response_flags": model.LabelValue(flags)}}
		for i, v := range vals {
			if v >= 0 {
				s.Values = append(s.Values, model.SamplePair{Timestamp: model.Time(i * 1000), Value: model.SampleValue(v)})
			}
		}
		return s
	}
	out := byCode(dstLabels)(model.Matrix{ser("200", "-", 9, 8, 10), ser("504", "UT", -1, 2, 0), ser("404", "NR", 1, 0, 0), ser("0", "DC", 0, 0, 0)})
	got := map[string][]float64{}
	for _, s := range out {
		k := string(s.Metric[derivedLabel]) + ":" + string(s.Metric["response_code"])
		for _, v := range s.Values {
			got[k] = append(got[k], float64(v.Value))
		}
		if s.Metric["destination_workload"] != "api" {
			t.Errorf("labels %v", s.Metric)
		}
	}
	want := map[string][]float64{"rate:": {10, 10, 10}, "ratio:": {0, 0.2, 0}, "code:504": {0.2, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if len(byCode(dstLabels)(nil)) != 0 {
		t.Error("nothing in, something out")
	}
}
