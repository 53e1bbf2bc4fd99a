package simulator

import (
	"context"
	"io"
	"testing"
	"time"
)

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkBackfill6h simulates six hours of the mesh (15 s ticks, every
// tick recorded) and writes the OpenMetrics text, as `meshwatch simulate
// --mode backfill --resolution 15s` does (the bytes go to a counter, not a disk).
func BenchmarkBackfill6h(b *testing.B) {
	sc, err := LookupScenario("canary-5xx-regression")
	if err != nil {
		b.Fatal(err)
	}
	var series, samples int
	var bytes int64
	for i := 0; i < b.N; i++ {
		e, err := Simulate(context.Background(), Options{Scenario: sc, Seed: int64(i + 1), End: testEnd, Duration: 6 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		var w countingWriter
		if err := e.WriteOpenMetrics(&w); err != nil {
			b.Fatal(err)
		}
		series, samples = e.SeriesCount()
		bytes = w.n
	}
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(samples), "samples/op")
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(bytes)/(1<<20), "MiB/op")
}
