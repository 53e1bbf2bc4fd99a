package sqlite

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// benchBatchSize is one webhook delivery: Alertmanager sends a group's
// alerts together.
const benchBatchSize = 50

// benchBatch is batch n: benchBatchSize firing alerts of 10 workloads that
// no earlier batch named (a burst of new trouble), or, with repeat, the
// same alerts every time (Alertmanager's repeat_interval re-sending them).
func benchBatch(b *testing.B, n int) incident.Batch {
	alerts := make([]incident.Alert, benchBatchSize)
	for i := range alerts {
		alerts[i] = alert(b, incident.StatusFiring, t0, fmt.Sprintf("svc-%d-%d", n, i%10),
			"pod", fmt.Sprintf("svc-%d-%d-7d9f8b6c5d-x2x9q", n, i%10), "container", "c"+strconv.Itoa(i))
	}
	return incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts}
}

// BenchmarkIngest reports ingest throughput in alerts/s: each op is one
// committed batch of 50 alerts.
func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct {
		name   string
		sync   Synchronous
		repeat bool
	}{
		{"new/sync=FULL", SyncFull, false},
		{"new/sync=NORMAL", SyncNormal, false},
		{"repeat/sync=FULL", SyncFull, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(bg, filepath.Join(b.TempDir(), "incidents.db"), storetest.Config, WithSynchronous(bc.sync))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batches := make([]incident.Batch, b.N)
			for i := range batches {
				if bc.repeat && i > 0 {
					batches[i] = batches[0]
				} else {
					batches[i] = benchBatch(b, i)
				}
			}
			if bc.repeat { // the first delivery stores them
				if _, err := s.Ingest(bg, t0, batches[0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Ingest(bg, t0.Add(time.Duration(i)*time.Second), batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
