package evidence

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMetricIDStableAndDistinct(t *testing.T) {
	a := MetricID(KindErrorRatio, "shop", "api", "", "", map[string]string{"code": "504", "flags": "UT"})
	b := MetricID(KindErrorRatio, "shop", "api", "", "", map[string]string{"flags": "UT", "code": "504"})
	if a != b {
		t.Fatalf("detail order changed the id: %s %s", a, b)
	}
	if !regexp.MustCompile(`^err-[0-9a-f]{6}$`).MatchString(a) {
		t.Fatalf("id %q", a)
	}
	seen := map[string]string{}
	for _, k := range Kinds {
		for _, wl := range []string{"api", "frontend", "payments", "payments-primary"} {
			for _, peer := range []string{"", "inventory"} {
				// Concatenation must not collide ("a","bc" vs "ab","c").
				id := MetricID(k.Kind, "shop", wl, peer, "", nil)
				key := string(k.Kind) + "|" + wl + "|" + peer
				if prev, dup := seen[id]; dup {
					t.Errorf("%s and %s share id %s", prev, key, id)
				}
				seen[id] = key
				if !strings.HasPrefix(id, k.Prefix+"-") {
					t.Errorf("%s: id %s lacks prefix %s", k.Kind, id, k.Prefix)
				}
			}
		}
	}
	if MetricID(KindCPU, "a", "bc", "", "", nil) == MetricID(KindCPU, "ab", "c", "", "", nil) {
		t.Error("field boundaries are not part of the hash")
	}
	if TraceEvidenceID("00ab12") != TraceEvidenceID("AB12") {
		t.Error("trace ids differing only in leading zeros and case must share an evidence id")
	}
	if Kind("nope").Prefix() != "m" {
		t.Error("unknown kind prefix")
	}
}

func TestKindsHaveUniquePrefixes(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds {
		if seen[k.Prefix] || k.Prefix == "log" || k.Prefix == "tr" {
			t.Errorf("prefix %s reused", k.Prefix)
		}
		seen[k.Prefix] = true
	}
}

func TestDurationJSON(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, `"0s"`}, {5 * time.Minute, `"5m"`}, {3*time.Hour + 12*time.Minute, `"3h12m"`},
		{2 * time.Hour, `"2h"`}, {45 * time.Second, `"45s"`}, {90*time.Second + 400*time.Millisecond, `"1m30s"`},
		{-5 * time.Minute, `"-5m"`},
	} {
		b, _ := json.Marshal(Duration(c.d))
		if string(b) != c.want {
			t.Errorf("%v: %s, want %s", c.d, b, c.want)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != c.d.Round(time.Second) {
			t.Errorf("%s read back as %v (%v)", b, time.Duration(back), err)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`300`), &d); err != nil || time.Duration(d) != 5*time.Minute {
		t.Errorf("seconds: %v %v", time.Duration(d), err)
	}
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error("bad duration accepted")
	}
	if err := json.Unmarshal([]byte(`{}`), &d); err == nil {
		t.Error("object accepted")
	}
}

func TestPackJSONShapeAndLookup(t *testing.T) {
	at := time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC)
	base := 1.0
	p := Pack{Incident: 7, Window: Window{From: at.Add(-10 * time.Minute), To: at, RuleFor: Duration(5 * time.Minute)},
		Subject: Workload{"shop", "api"}, Scope: []Neighbour{{Workload: Workload{"shop", "frontend"}, Role: RoleCaller}},
		Metrics: []Metric{{ID: "err-000001", Kind: KindErrorRatio, Namespace: "shop", Workload: "api", Unit: UnitRatio,
			Summary: Summary{Baseline: &base, Window: 0.2, Points: 20}}},
		Logs:       []LogPattern{{ID: "log-000002", Namespace: "shop", Workload: "api", Pattern: "x", Count: 1, First: at, Last: at}},
		Traces:     []Trace{{ID: "tr-000003", TraceID: "ab", DurationMs: 1200, Start: at}},
		CapturedAt: at}
	js := string(p.JSON())
	for _, want := range []string{`"incident":7`, `"for":"5m"`, `"subject":{"ns":"shop","wl":"api"}`, `"role":"caller"`,
		`"kind":"error-ratio"`, `"base":1`, `"win":0.2`, `"n":20`, `"at":"2026-10-30T12:00:00Z"`} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	var back Pack
	if err := json.Unmarshal([]byte(js), &back); err != nil {
		t.Fatal(err)
	}
	if string(back.JSON()) != js {
		t.Errorf("round trip changed the pack:\n%s\n%s", js, back.JSON())
	}
	for id, kind := range map[string]string{"err-000001": "metric", "log-000002": "log", "tr-000003": "trace"} {
		if k, _, ok := p.Lookup(id); !ok || k != kind {
			t.Errorf("Lookup(%s) = %s %v", id, k, ok)
		}
	}
	if _, _, ok := p.Lookup("err-ffffff"); ok {
		t.Error("unknown id found")
	}
	if len(p.IDs()) != 3 || len(p.Find(KindErrorRatio, "shop", "api")) != 1 || len(p.Find(KindErrorRatio, "", "")) != 1 ||
		len(p.Find(KindErrorRatio, "shop", "web")) != 0 {
		t.Error("IDs/Find")
	}
	if EstimateTokens(0) != 0 || EstimateTokens(1) != 1 || EstimateTokens(6144) != 1536 {
		t.Error("EstimateTokens")
	}
}
