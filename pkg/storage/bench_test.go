package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incidents"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// benchPG is one durable PostgreSQL for the benchmarks (fsync and
// synchronous commits on, like SQLite's synchronous=FULL), each run in a
// database of its own.
var (
	benchPGOnce sync.Once
	benchPG     *harness.Postgres
	benchPGStop func()
)

func durablePG(b *testing.B) *harness.Postgres {
	benchPGOnce.Do(func() {
		s, err := harness.NewSession(func(string, ...any) {})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Do(func(t harness.T) { benchPG = harness.StartPostgres(t, harness.PostgresOptions{Durable: true}) }); err != nil {
			b.Skipf("no PostgreSQL: %v", err)
		}
		benchPGStop = func() { _ = s.Close() }
	})
	if benchPG == nil {
		b.Skip("no PostgreSQL")
	}
	return benchPG
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchPGStop != nil {
		benchPGStop()
	}
	os.Exit(code)
}

// benchStores are the two kinds, side by side.
func benchStores(b *testing.B) []struct {
	name string
	cfg  func(b *testing.B) settings.Storage
} {
	return []struct {
		name string
		cfg  func(b *testing.B) settings.Storage
	}{
		{"sqlite", func(b *testing.B) settings.Storage {
			return settings.Storage{Kind: settings.StoreSQLite, Path: filepath.Join(b.TempDir(), "meshwatch.db")}
		}},
		{"postgres", func(b *testing.B) settings.Storage {
			return settings.Storage{Kind: settings.StorePostgres}.WithDSN(durablePG(b).NewDatabase(b))
		}},
	}
}

// BenchmarkStoreIngest is ingest throughput: each op one committed batch
// of 50 new alerts of 10 workloads (a burst of new trouble), SQLite
// (synchronous=FULL) beside PostgreSQL (fsync on), both durable.
func BenchmarkStoreIngest(b *testing.B) {
	const size = 50
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			s, err := Open(context.Background(), st.cfg(b), incident.Config{Rules: incident.DefaultRules}, Option{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batches := make([]incident.Batch, b.N)
			for n := range batches {
				alerts := make([]incident.Alert, size)
				for i := range alerts {
					a := alert(b, fmt.Sprintf("svc-%d-%d", n, i%10), t0)
					a.Labels["pod"] = fmt.Sprintf("svc-%d-%d-7d9f8b6c5d-%d", n, i%10, i)
					alerts[i], _ = incident.Normalize(a)
				}
				batches[n] = incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts}
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if _, err := s.Ingest(context.Background(), t0.Add(time.Duration(n)*time.Second), batches[n]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkStoreWebhook is the Alertmanager webhook route (decode, ingest,
// answer) over each store, with 4 deliveries in flight (Alertmanager's
// groups arrive together): each op one delivery of one alert, a quarter of
// them repeats of an earlier one. It reports the deliveries' p50 and p99.
func BenchmarkStoreWebhook(b *testing.B) {
	const senders = 4
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			cfg := st.cfg(b)
			reg := capability.New()
			incidents.Register(reg, incidents.Options{StoreKey: Key(cfg) + b.Name(), Open: func(ctx context.Context) (incident.Store, error) {
				return Open(ctx, cfg, incident.Config{Rules: incident.DefaultRules}, Option{})
			}})
			defer reg.Dispose()
			h := reg.Handler()
			bodies := make([][]byte, b.N)
			for n := range bodies {
				w := n
				if n%4 == 3 {
					w = n / 2 // a repeat
				}
				bodies[n] = webhookBody(fmt.Sprintf("svc-%d", w))
			}
			lat := make([]time.Duration, b.N)
			var next sync.Mutex
			i := 0
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := 0; g < senders; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						next.Lock()
						n := i
						i++
						next.Unlock()
						if n >= b.N {
							return
						}
						req := httptest.NewRequest(http.MethodPost, incidents.RouteAlertmanager, bytes.NewReader(bodies[n]))
						req = req.WithContext(access.WithUser(req.Context(), &access.User{Login: "sa-alertmanager", Role: access.Viewer}))
						rec := httptest.NewRecorder()
						t := time.Now()
						h.ServeHTTP(rec, req)
						lat[n] = time.Since(t)
						if rec.Code != http.StatusOK {
							b.Errorf("delivery %d: %d %s", n, rec.Code, rec.Body)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}

func webhookBody(workload string) []byte {
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "meshwatch",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
		"alerts": []map[string]any{{"status": "firing", "startsAt": t0, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
			"labels":      map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "workload": workload, "severity": "critical"},
			"annotations": map[string]string{"summary": workload + " fails"}}}})
	return b
}
