package evidence

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizeLogLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"connection refused", "connection refused"},
		{"user 550e8400-e29b-41d4-a716-446655440000 not found", "user <uuid> not found"},
		{"dial tcp 10.42.0.17:8080: connect: connection refused", "dial tcp <ip>: connect: connection refused"},
		{"peer fe80::1ff:fe23:4567:890a reset", "peer <ip> reset"},
		{"peer 2001:db8:85a3:0:0:8a2e:370:7334 reset", "peer <ip> reset"},
		{"ADS:LDS: ACK ERROR", "ADS:LDS: ACK ERROR"},
		{"at 10:42:17.123 the job ran", "at <ts> the job ran"},
		{"started 2026-10-30T10:42:17.123Z done", "started <ts> done"},
		{"pod api-7d9f8b6c4d-x2z4q restarted", "pod api-<pod> restarted"},
		{"pod payments-primary-5b7c9d8f6-qwxzt restarted", "pod payments-primary-<pod> restarted"},
		{"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 pulled", "sha256:<hex> pulled"},
		{"trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7", "trace <hex> span <hex>"},
		{"ptr 0xc000123456 nil", "ptr <hex> nil"},
		{"deadbeefcafe is a word", "deadbeefcafe is a word"},
		{"took 1.5s", "took <dur>"},
		{"took 250ms and 20 µs", "took <dur> and <dur>"},
		{"retry in 1m30s", "retry in <dur>"},
		{"waited 3 seconds", "waited <dur>"},
		{"processed 12345 items in batch 7", "processed <n> items in batch <n>"},
		{"ratio 0.25 of 1e6", "ratio <n> of <n>"},
		{"version 1.24.3 loaded", "version <n> loaded"},
		{"upstream inventory returned 504 (UT: upstream request timeout)", "upstream inventory returned 504 (UT: upstream request timeout)"},
		{"HTTP 503 from payments", "HTTP 503 from payments"},
		{"status=500 path=/charge", "status=500 path=/charge"},
		{"got 404", "got 404"},
		{"queue has 503 entries", "queue has <n> entries"},
		{"v2 of k8s x2z4q node-40", "v2 of k8s x2z4q node-<n>"},
		{"3abc and 12e stay, 12e5 and -5 and 7 do not", "3abc and 12e stay, <n> and -<n> and <n> do not"},
		{"a.5 b_7 c:9", "a.5 b_7 c:<n>"},
		{"42", "<n>"},
		{"a\t\tb\n c", "a b c"},
		{`{"ts":"2026-10-30T10:00:00.000Z","level":"error","msg":"request failed","service":"api","version":"v1","error":"upstream inventory returned 504 (UT: upstream request timeout)","latency_ms":1000.51,"method":"GET","route":"/api/stock","span_id":"00f067aa0ba902b7","status":504,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","upstream":"inventory"}`,
			`request failed error="upstream inventory returned 504 (UT: upstream request timeout)" latency_ms=<n> method=GET route=/api/stock service=api status=504 upstream=inventory version=v1`},
		{`{"message":"boom","count":3,"ok":false,"x":null,"obj":{"a":1}}`, `boom count=<n> obj={"a":<n>} ok=false x=null`},
		{`{"error":"oops 42"}`, `oops <n>`},
		{`{not json`, `{not json`},
		{`{"msg":"é` + strings.Repeat("x", 300) + `"}`, "é" + strings.Repeat("x", 195) + "…"},
	}
	for _, c := range cases {
		if got := NormalizeLogLine(c.in); got != c.want {
			t.Errorf("NormalizeLogLine(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	// Two lines of one event with other ids, numbers and times share a pattern.
	a := NormalizeLogLine(`{"ts":"2026-10-30T10:00:00Z","level":"error","msg":"request failed","status":500,"latency_ms":12.5,"trace_id":"aa","error":"charge failed: nil pointer dereference"}`)
	b := NormalizeLogLine(`{"ts":"2026-10-30T10:05:00Z","level":"error","msg":"request failed","status":500,"latency_ms":7,"trace_id":"bb","error":"charge failed: nil pointer dereference"}`)
	if a != b {
		t.Errorf("one event, two patterns:\n%s\n%s", a, b)
	}
	if len(NormalizeLogLine(strings.Repeat("word ", 100))) > MaxPattern {
		t.Error("pattern not cut")
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"}, {"abcd", 3, "…"}, {"abcdef", 5, "ab…"}, {"ééé", 5, "é…"}, {"", 0, ""},
	} {
		if got := cut(c.s, c.n); got != c.want || len(got) > max(c.n, len(c.want)) {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestPatterns(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m)*time.Minute + 300*time.Millisecond) }
	lines := []LogLine{
		{at(5), "shop", "api", "api", "upstream inventory returned 504 (UT) after 1000ms trace 4bf92f3577b34da6a3ce929d0e0e4736", 0},
		{at(1), "shop", "api", "api", "upstream inventory returned 504 (UT) after 1001ms trace 5bf92f3577b34da6a3ce929d0e0e4736", 0},
		{at(3), "shop", "api", "api", "upstream inventory returned 504 (UT) after 999ms trace 6bf92f3577b34da6a3ce929d0e0e4736", 0},
		{at(2), "shop", "api", "istio-proxy", "upstream inventory returned 504 (UT) after 1000ms trace 4bf92f3577b34da6a3ce929d0e0e4736", 0},
		{at(4), "shop", "frontend", "frontend", "upstream api returned 504 (UT) " + strings.Repeat("x", 300), 0},
		{at(6), "shop", "frontend", "frontend", "upstream api returned 504 (UT) " + strings.Repeat("x", 300), 0},
		{at(7), "shop", "orders", "orders", "panic: runtime error", 0},
		{at(0), "shop", "orders", "orders", "  ", 0},
	}
	got := Patterns(lines, 0)
	if len(got) != 4 {
		t.Fatalf("%d patterns: %+v", len(got), got)
	}
	p := got[0]
	if p.Workload != "api" || p.Container != "api" || p.Count != 3 || !p.First.Equal(t0.Add(time.Minute)) || !p.Last.Equal(t0.Add(5*time.Minute)) ||
		!strings.Contains(p.Example, "1001ms") || p.Pattern != "upstream inventory returned 504 (UT) after <dur> trace <hex>" {
		t.Errorf("top pattern %+v", p)
	}
	if p.ID != LogID("shop", "api", "api", p.Pattern) {
		t.Errorf("id %s", p.ID)
	}
	// Ties on count: the most recent first.
	if got[1].Workload != "frontend" || got[1].Count != 2 || len(got[1].Example) > MaxExample {
		t.Errorf("second %+v", got[1])
	}
	if got[2].Workload != "orders" || got[3].Container != "istio-proxy" {
		t.Errorf("order: %+v", got)
	}
	if top := Patterns(lines, 2); len(top) != 2 || top[0].ID != got[0].ID {
		t.Errorf("top 2: %+v", top)
	}
	// Weights: a sampled line stands for several.
	w := Patterns([]LogLine{{t0, "shop", "api", "api", "boom 1", 2.6}, {t0, "shop", "api", "api", "boom 2", 2.6}, {t0, "shop", "api", "api", "other", 0.2}}, 0)
	if len(w) != 2 || w[0].Count != 5 || w[1].Count != 1 {
		t.Errorf("weighted: %+v", w)
	}
	if len(Patterns(nil, 5)) != 0 {
		t.Error("patterns of nothing")
	}
	// Stable: the same lines in another order give the same patterns.
	rev := append([]LogLine(nil), lines...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	again := Patterns(rev, 0)
	for i := range got {
		if got[i] != again[i] {
			t.Errorf("order changed pattern %d: %+v vs %+v", i, got[i], again[i])
		}
	}
}

func BenchmarkNormalizeLogLine(b *testing.B) {
	line := `{"ts":"2026-10-30T10:00:00.000Z","level":"error","msg":"request failed","service":"api","version":"v1","error":"GET /stock: upstream inventory returned 504 (UT: upstream request timeout)","latency_ms":1000.51,"method":"GET","route":"/api/products","span_id":"00f067aa0ba902b7","status":504,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","upstream":"inventory"}`
	for b.Loop() {
		NormalizeLogLine(line)
	}
}
