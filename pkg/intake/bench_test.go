package intake_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/intake"
)

// burst is an Alertmanager payload of n alerts shaped like the golden
// payload's KubePodCrashLooping (one per pod), about 1 KiB each.
func burst(tb testing.TB, n int) []byte {
	tb.Helper()
	var msg map[string]any
	b, err := os.ReadFile(goldenAM)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		tb.Fatal(err)
	}
	proto := msg["alerts"].([]any)[1].(map[string]any)
	alerts := make([]any, n)
	for i := range alerts {
		a := map[string]any{}
		for k, v := range proto {
			a[k] = v
		}
		labels := map[string]any{}
		for k, v := range proto["labels"].(map[string]any) {
			labels[k] = v
		}
		labels["pod"] = fmt.Sprintf("jellyfin-7d9c8b6f5-%05d", i)
		a["labels"] = labels
		alerts[i] = a
	}
	msg["alerts"] = alerts
	out, _ := json.Marshal(msg)
	return out
}

// BenchmarkDecodeAlertmanager decodes a 1,000-alert webhook (the crash
// test's burst in one group).
func BenchmarkDecodeAlertmanager(b *testing.B) {
	body := burst(b, 1000)
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := intake.DecodeAlertmanager(body, now)
		if err != nil || len(p.Alerts) != 1000 {
			b.Fatalf("%d alerts, %v", len(p.Alerts), err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// TestFullSizeBodyDecodes: a body just under DefaultLimit, of alerts the
// size of the golden payload's, decodes, and allocates less than 10 times
// its size (the memory DefaultLimit's comment counts on).
func TestFullSizeBodyDecodes(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 4 MiB")
	}
	per := len(burst(t, 1001)) - len(burst(t, 1000))
	n := int(intake.DefaultLimit)/per - 10
	body := burst(t, n)
	if int64(len(body)) > intake.DefaultLimit {
		t.Fatalf("%d bytes", len(body))
	}
	var p intake.Parsed
	var err error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err = intake.DecodeAlertmanager(body, time.Now())
		}
	})
	if err != nil || len(p.Alerts) != n {
		t.Fatalf("%d of %d alerts, %v", len(p.Alerts), n, err)
	}
	t.Logf("%d alerts of %d bytes in %d bytes: %s per decode, %d bytes allocated", n, per, len(body),
		time.Duration(res.NsPerOp()), res.AllocedBytesPerOp())
	if res.AllocedBytesPerOp() > 10*int64(len(body)) {
		t.Errorf("decoding %d bytes allocated %d", len(body), res.AllocedBytesPerOp())
	}
}
