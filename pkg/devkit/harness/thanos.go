package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// BinThanos is the Thanos binary .ci/install-tools.sh builds (`bash
// .ci/install-tools.sh thanos`): one binary for the query and sidecar
// components.
const BinThanos = "thanos"

// ThanosOptions configures StartThanos. The zero value is two replicas, a
// and b, with no targets and no rules.
type ThanosOptions struct {
	// Prometheus configures every replica alike (Blocks, RuleFiles,
	// ScrapeTargets...): HA replicas hold the same data. Each replica gets
	// the external label ReplicaLabel=<its name> on top of
	// Prometheus.ExternalLabels.
	Prometheus PrometheusOptions
	// Replicas are the replicas' names; default a and b.
	Replicas []string
	// ReplicaLabel is the external label that tells replicas apart and that
	// the querier deduplicates by (--query.replica-label); default "replica".
	ReplicaLabel string
}

// Thanos is a Thanos Querier in front of HA Prometheus replicas, each with
// its Thanos sidecar (the standard setup: the sidecar serves its
// Prometheus' data, rules and external labels over the Store API, and
// the querier merges the replicas and removes the replica label).
type Thanos struct {
	// URL is the querier's HTTP API (http://127.0.0.1:<port>): Prometheus'
	// /api/v1 query, series, labels, rules and alerts endpoints, answered
	// deduplicated (dedup=false asks for every replica's series).
	URL string
	// Replicas are the Prometheus servers, in Replicas order.
	Replicas []*Prometheus
	// Sidecars are the sidecars' gRPC (Store API) addresses, in Replicas order.
	Sidecars []string
	// ReplicaLabel is the label the querier deduplicates by.
	ReplicaLabel string
}

// StartThanos starts the replicas (StartPrometheus each), a sidecar per
// replica and a querier over the sidecars, on random loopback ports, and
// waits until the querier sees every sidecar with its external labels and
// time range (a few seconds: the querier checks its endpoints every 5s).
// Everything is stopped in t.Cleanup. A replica's Blocks are copied per
// replica, so mind their size.
func StartThanos(t T, opts ThanosOptions) *Thanos {
	t.Helper()
	bin := RequireBinary(t, BinThanos)
	names := opts.Replicas
	if len(names) == 0 {
		names = []string{"a", "b"}
	}
	label := opts.ReplicaLabel
	if label == "" {
		label = "replica"
	}
	th := &Thanos{ReplicaLabel: label}
	for _, name := range names {
		po := opts.Prometheus
		po.ExternalLabels = maps.Clone(po.ExternalLabels)
		if po.ExternalLabels == nil {
			po.ExternalLabels = map[string]string{}
		}
		po.ExternalLabels[label] = name
		p := StartPrometheus(t, po)
		th.Replicas = append(th.Replicas, p)

		dir := t.TempDir()
		var grpcAddr string
		start(t, func() spec {
			grpcAddr = addr(freePort(t))
			httpURL := "http://" + addr(freePort(t))
			return spec{
				name: "thanos-sidecar-" + name,
				bin:  bin,
				dir:  dir,
				args: []string{"sidecar",
					"--prometheus.url=" + p.URL,
					"--tsdb.path=" + p.DataDir,
					"--grpc-address=" + grpcAddr,
					"--http-address=" + strings.TrimPrefix(httpURL, "http://"),
					"--log.level=info",
				},
				timeout: 60 * time.Second,
				// Ready once it has read its Prometheus' external labels.
				ready: httpReady(readyClient, httpURL+"/-/ready", nil),
			}
		})
		th.Sidecars = append(th.Sidecars, grpcAddr)
	}

	dir := t.TempDir()
	start(t, func() spec {
		th.URL = "http://" + addr(freePort(t))
		args := []string{"query",
			"--http-address=" + strings.TrimPrefix(th.URL, "http://"),
			"--grpc-address=" + addr(freePort(t)),
			"--query.replica-label=" + label,
			"--log.level=info",
		}
		for _, s := range th.Sidecars {
			args = append(args, "--endpoint="+s)
		}
		return spec{
			name:    "thanos-query",
			bin:     bin,
			dir:     dir,
			args:    args,
			timeout: 60 * time.Second,
			ready:   storesReady(th.URL, th.Sidecars),
		}
	})
	return th
}

// storesReady is the querier's readiness: /-/ready answers and
// /api/v1/stores lists every sidecar, without error, with its labels.
func storesReady(base string, sidecars []string) func(ctx context.Context) error {
	ready := httpReady(readyClient, base+"/-/ready", nil)
	return func(ctx context.Context) error {
		if err := ready(ctx); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/stores", nil)
		if err != nil {
			return err
		}
		resp, err := readyClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		var ans struct {
			Data map[string][]struct {
				Name      string              `json:"name"`
				LastError *string             `json:"lastError"`
				LabelSets []map[string]string `json:"labelSets"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return fmt.Errorf("/api/v1/stores: %w: %.200s", err, body)
		}
		seen := map[string]bool{}
		for _, st := range ans.Data["sidecar"] {
			if st.LastError == nil && len(st.LabelSets) > 0 {
				seen[st.Name] = true
			}
		}
		for _, s := range sidecars {
			if !seen[s] {
				return fmt.Errorf("sidecar %s not yet among the querier's stores: %.300s", s, body)
			}
		}
		return nil
	}
}
