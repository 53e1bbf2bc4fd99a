package harness

import (
	"fmt"
	"path/filepath"
	"time"
)

// Loki is a running single-binary Loki (filesystem storage, in-memory ring;
// auth disabled, so no X-Scope-OrgID header is needed, unless started
// MultiTenant).
type Loki struct {
	URL     string // http://127.0.0.1:<port>; push to URL+"/loki/api/v1/push"
	DataDir string
}

// LokiOptions configures StartLoki. The zero value is a single-tenant Loki.
type LokiOptions struct {
	// MultiTenant runs Loki with auth_enabled: true, as multi-tenant
	// installations do: every push and query must name its tenant in the
	// X-Scope-OrgID header (Loki answers 401 "no org id" otherwise) and sees
	// only that tenant's streams.
	MultiTenant bool
}

// StartLoki starts a single-binary Loki on random loopback ports and waits
// until /ready answers (about 1s). It is stopped in t.Cleanup.
//
// Backfill-friendly limits: lines up to a year old are accepted (older ones
// get 400) and answered straight from the ingester, nothing needs flushing;
// within one stream lines may arrive in any order (up to ~6 months behind the
// newest). Stream labels stay exactly as pushed (no service_name or
// detected_level added) and queries may span any length (keep ranges short:
// the frontend splits them into 1h pieces). At most one LokiOptions.
func StartLoki(t T, opts ...LokiOptions) *Loki {
	t.Helper()
	var o LokiOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	bin := RequireBinary(t, BinLoki)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mkdirs(t, dir, "data")
	l := &Loki{DataDir: data}
	start(t, func() spec {
		httpPort, grpcPort, mlPort := freePort(t), freePort(t), freePort(t)
		l.URL = "http://" + addr(httpPort)
		cfg := filepath.Join(dir, "loki.yaml")
		writeFile(t, cfg, lokiConfig(data, o.MultiTenant, httpPort, grpcPort, mlPort), 0o644)
		return spec{
			name:    "loki",
			bin:     bin,
			dir:     dir,
			args:    []string{"-config.file=" + cfg},
			timeout: 90 * time.Second,
			ready:   httpReady(readyClient, l.URL+"/ready", nil),
		}
	})
	return l
}

func lokiConfig(data string, multiTenant bool, httpPort, grpcPort, memberlistPort int) string {
	return fmt.Sprintf(`auth_enabled: %[5]t
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %[2]d
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: %[3]d
  log_level: info
  graceful_shutdown_timeout: 1s
common:
  instance_addr: 127.0.0.1
  path_prefix: %[1]s
  replication_factor: 1
  storage:
    filesystem:
      chunks_directory: %[1]s/chunks
      rules_directory: %[1]s/rules
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
memberlist:
  bind_addr: [127.0.0.1]
  bind_port: %[4]d
  advertise_addr: 127.0.0.1
frontend:
  address: 127.0.0.1
  encoding: protobuf
  # Find the scheduler (through its ring) within a second, not 10s.
  scheduler_dns_lookup_period: 500ms
frontend_worker:
  dns_lookup_duration: 500ms
ingester:
  # Lines older than max_chunk_age are neither kept nor queried in the
  # ingester; a stream accepts lines up to max_chunk_age/2 behind its newest.
  max_chunk_age: 8760h
  lifecycler:
    address: 127.0.0.1
    min_ready_duration: 0s
    final_sleep: 0s
querier:
  # Ask the ingester for every time range: backfilled lines live there until flushed.
  query_ingesters_within: 0
query_range:
  results_cache:
    cache:
      embedded_cache:
        enabled: true
        max_size_mb: 32
schema_config:
  configs:
    - from: 2020-01-01
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  # The ingester answers for lines up to max_chunk_age old; reject older ones
  # loudly rather than accept lines no query would ever return.
  reject_old_samples: true
  reject_old_samples_max_age: 8760h
  creation_grace_period: 1h
  unordered_writes: true
  max_query_lookback: 0
  max_query_length: 0
  ingestion_rate_mb: 64
  ingestion_burst_size_mb: 128
  per_stream_rate_limit: 64MB
  per_stream_rate_limit_burst: 128MB
  allow_structured_metadata: true
  discover_service_name: []
  discover_log_levels: false
  volume_enabled: true
pattern_ingester:
  enabled: false
ruler:
  enable_api: false
compactor:
  working_directory: %[1]s/compactor
analytics:
  reporting_enabled: false
`, data, httpPort, grpcPort, memberlistPort, multiTenant)
}
