package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
	"github.com/meshwatch/meshwatch/pkg/ha"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/postgres"
	"github.com/meshwatch/meshwatch/pkg/incidents"
	"github.com/meshwatch/meshwatch/pkg/signoff"
)

// Grafana in HA: two plugin binaries (two replicas' backends), each over
// the real plugin protocol, sharing one real PostgreSQL.

// replicas starts PostgreSQL, an empty database and two plugin processes,
// and returns the plugin context both get (storage.kind postgres, the DSN
// in secureJsonData; Alertmanager at amURL for the reconcile).
func replicas(t *testing.T, amURL string) (dsn string, ps [2]*pluginhost.Plugin, pc backend.PluginContext) {
	t.Helper()
	return replicasWith(t, amURL, amURL, 10)
}

// replicasWith is replicas with Prometheus at promURL and the reconcile
// every reconcileSeconds.
func replicasWith(t *testing.T, amURL, promURL string, reconcileSeconds int) (dsn string, ps [2]*pluginhost.Plugin, pc backend.PluginContext) {
	t.Helper()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	dsn = pg.NewDatabase(t)
	if amURL == "" {
		amURL = "http://127.0.0.1:1"
	}
	if promURL == "" {
		promURL = amURL // nothing to capture from: captures fail fast
	}
	pc = pluginContext(t, map[string]any{
		"alertmanager": map[string]any{"url": amURL, "timeoutSeconds": 5},
		"prometheus":   map[string]any{"url": promURL},
		"kubernetes":   map[string]any{"mode": "disabled"},
		"storage":      map[string]any{"kind": "postgres"},
		"incidents":    map[string]any{"reconcileSeconds": reconcileSeconds},
	}, map[string]string{"storageDSN": dsn})
	for i := range ps {
		ps[i], _ = startPlugin(t)
	}
	return dsn, ps, pc
}

// amWebhook is Alertmanager's webhook body (version 4) for alerts of
// workloads in namespace shop, firing since starts.
func amWebhook(starts time.Time, workloads ...string) []byte {
	type alert struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	}
	msg := map[string]any{"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "meshwatch",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "truncatedAlerts": 0}
	var list []alert
	for _, w := range workloads {
		list = append(list, alert{Status: "firing", StartsAt: starts, GeneratorURL: "http://prometheus/graph",
			Labels:      map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "workload": w, "severity": "critical"},
			Annotations: map[string]string{"summary": w + " is failing"}})
	}
	msg["alerts"] = list
	b, _ := json.Marshal(msg)
	return b
}

func listIncidents(t *testing.T, p *pluginhost.Plugin, pc backend.PluginContext) []incident.Incident {
	t.Helper()
	r := call(t, p, pc, http.MethodGet, strings.TrimPrefix(incidents.RouteIncidents, "/"), nil, nil)
	var l incidents.ListResponse
	if err := json.Unmarshal(r.Body, &l); err != nil || r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	return l.Incidents
}

// activeOf asks a replica's health check which replica is the active
// worker: "self", "other" or "" (none at the moment).
func activeOf(t *testing.T, p *pluginhost.Plugin, pc backend.PluginContext) string {
	t.Helper()
	_, lines := checkHealth(t, p, pc)
	l, ok := lines["Active worker"]
	if !ok {
		t.Fatalf("no Active worker line in the health report: %+v", lines)
	}
	if l.Version != "postgres" {
		t.Errorf("the Active worker line names the store kind %q, want postgres", l.Version)
	}
	switch msg := l.Message; {
	case strings.Contains(msg, "is the active worker"):
		return "self"
	case strings.Contains(msg, "the active worker is"):
		return "other"
	default:
		return ""
	}
}

// The same alert delivered through both replicas at once, again and again,
// is one incident with one alert record, and both replicas show it.
func TestHASameAlertThroughBothReplicasIsOneIncident(t *testing.T) {
	_, ps, pc := replicas(t, "")
	body := amWebhook(time.Now().Add(-time.Minute).Truncate(time.Second), "checkout")
	jsonCT := map[string][]string{"Content-Type": {"application/json"}}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 10; i++ {
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call(t, p, pc, http.MethodPost, strings.TrimPrefix(incidents.RouteAlertmanager, "/"), body, jsonCT)
				if r.Status == 200 {
					ok.Add(1)
				} else {
					t.Errorf("delivery: %d %s", r.Status, r.Body)
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Fatalf("%d of 20 deliveries acknowledged", ok.Load())
	}
	a, b := listIncidents(t, ps[0], pc), listIncidents(t, ps[1], pc)
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID || a[0].Alerts != 1 {
		t.Fatalf("want one incident with one alert on both replicas, got %+v and %+v", a, b)
	}
	// One store: what one replica took in, the other shows.
	r := call(t, ps[0], pc, http.MethodPost, strings.TrimPrefix(incidents.RouteAlertmanager, "/"),
		amWebhook(time.Now().Truncate(time.Second), "payments"), jsonCT)
	if r.Status != 200 {
		t.Fatalf("delivery: %d %s", r.Status, r.Body)
	}
	if b = listIncidents(t, ps[1], pc); len(b) != 2 {
		t.Fatalf("the other replica shows %d incidents, want 2: %+v", len(b), b)
	}
}

// A delivery taken by the standby opens an incident; the active worker
// captures its evidence at once (the store's notification wakes it), not at
// its next round (an hour away here).
func TestHAActiveWorkerCapturesWhatTheStandbyTookIn(t *testing.T) {
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{})
	_, ps, pc := replicasWith(t, "", prom.URL, 3600)
	var standby *pluginhost.Plugin
	for end := time.Now().Add(30 * time.Second); standby == nil; {
		for i, p := range ps {
			if activeOf(t, p, pc) == "other" {
				standby = ps[i]
			}
		}
		if time.Now().After(end) {
			t.Fatal("no standby replica")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the active worker's first round is over; its next is an hour away
	r := call(t, standby, pc, http.MethodPost, strings.TrimPrefix(incidents.RouteAlertmanager, "/"),
		amWebhook(time.Now().Add(-time.Minute).Truncate(time.Second), "checkout"), map[string][]string{"Content-Type": {"application/json"}})
	var ack incidents.IntakeResponse
	if err := json.Unmarshal(r.Body, &ack); err != nil || r.Status != 200 || len(ack.Incidents) != 1 {
		t.Fatalf("delivery: %d %s", r.Status, r.Body)
	}
	t0 := time.Now()
	for {
		d := call(t, standby, pc, http.MethodGet, fmt.Sprintf("%s/%d", strings.TrimPrefix(incidents.RouteIncidents, "/"), ack.Incidents[0]), nil, nil)
		var detail incidents.DetailResponse
		if err := json.Unmarshal(d.Body, &detail); err != nil || d.Status != 200 {
			t.Fatalf("detail: %d %s", d.Status, d.Body)
		}
		if detail.Evidence != nil {
			t.Logf("evidence captured %s after the standby took the delivery", time.Since(t0).Round(time.Millisecond))
			return
		}
		if time.Since(t0) > 20*time.Second {
			t.Fatal("no evidence 20 s after the delivery: the active worker was not woken")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// balancer plays the load-balanced Service in front of the replicas'
// Grafana: each request goes to the next replica in turn, and to the other
// when that one's plugin is gone (as a Service drops a dead pod).
type balancer struct {
	*httptest.Server
	ps    [2]*pluginhost.Plugin
	pc    backend.PluginContext
	next  atomic.Int64
	calls [2]atomic.Int64
}

func newBalancer(t *testing.T) *balancer {
	b := &balancer{}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, resourcesPrefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	pc := b.pc
	pc.User = &backend.User{Login: "sa-1-alertmanager", Name: "alertmanager", Role: "Viewer"}
	first := int(b.next.Add(1) % 2)
	for try := 0; try < 2; try++ {
		i := (first + try) % 2
		p := b.ps[i]
		if p == nil || p.Exited() {
			continue
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		resp, err := p.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Path: rest, Method: r.Method,
			URL: rest, Body: body, Headers: map[string][]string{"Content-Type": {"application/json"}}})
		cancel()
		if err != nil {
			continue
		}
		b.calls[i].Add(1)
		w.WriteHeader(resp.Status)
		_, _ = w.Write(resp.Body)
		return
	}
	w.WriteHeader(http.StatusBadGateway)
}

// A real Alertmanager posts through a load balancer to either replica: no
// incident is duplicated, though both replicas take deliveries and the
// active one also reconciles with Alertmanager's API. Then the active
// replica is killed with -9: the other takes over within the lease time,
// and the alerts that fire meanwhile all become incidents.
func TestHAAlertmanagerToTwoReplicasAndKill9OfTheActiveWorker(t *testing.T) {
	lb := newBalancer(t)
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{
		WebhookURL: lb.URL + resourcesPrefix + incidents.RouteAlertmanager,
		GroupBy:    []string{"namespace", "workload"}, GroupInterval: time.Second,
	})
	dsn, ps, pc := replicas(t, am.URL)
	lb.ps, lb.pc = ps, pc

	post := func(workloads ...string) {
		type alert struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
		}
		var list []alert
		for _, w := range workloads {
			list = append(list, alert{Labels: map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "workload": w, "severity": "critical"},
				Annotations: map[string]string{"summary": w + " is failing"}, StartsAt: time.Now().Add(-time.Minute)})
		}
		am.Post(t, list)
	}
	workloadsOf := func(l []incident.Incident) map[string]int {
		out := map[string]int{}
		for _, in := range l {
			out[in.Key.Workload]++
		}
		return out
	}
	waitIncidents := func(p *pluginhost.Plugin, want []string, d time.Duration) map[string]int {
		t.Helper()
		end := time.Now().Add(d)
		for {
			got := workloadsOf(listIncidents(t, p, pc))
			all := true
			for _, w := range want {
				all = all && got[w] > 0
			}
			if all || time.Now().After(end) {
				return got
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	first := []string{"cart", "checkout", "payments", "search", "shipping"}
	post(first...)
	got := waitIncidents(ps[0], first, 30*time.Second)
	// Let the deliveries repeat and the active worker reconcile once more
	// (reconcileSeconds 10).
	time.Sleep(11 * time.Second)
	for i, p := range ps {
		got = workloadsOf(listIncidents(t, p, pc))
		for _, w := range first {
			if got[w] != 1 {
				t.Fatalf("replica %d: workload %s has %d incidents, want 1 (all: %v)", i, w, got[w], got)
			}
		}
		if len(got) != len(first) {
			t.Fatalf("replica %d: incidents of %v, want only %v", i, got, first)
		}
	}
	if lb.calls[0].Load() == 0 || lb.calls[1].Load() == 0 {
		t.Fatalf("the balancer did not reach both replicas: %d and %d deliveries", lb.calls[0].Load(), lb.calls[1].Load())
	}
	t.Logf("deliveries through the balancer: %d and %d", lb.calls[0].Load(), lb.calls[1].Load())

	// Exactly one active worker.
	roles := [2]string{activeOf(t, ps[0], pc), activeOf(t, ps[1], pc)}
	var active int
	switch roles {
	case [2]string{"self", "other"}:
		active = 0
	case [2]string{"other", "self"}:
		active = 1
	default:
		t.Fatalf("want one active worker and the other naming it, got %v", roles)
	}
	survivor := ps[1-active]

	// kill -9 the active worker, and alerts fire right then.
	t0 := time.Now()
	if err := syscall.Kill(ps[active].Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := []string{"inventory", "reviews", "recommendations"}
	post(second...)
	leaseTime := 3 * ha.DefaultEvery
	var took time.Duration
	for {
		if activeOf(t, survivor, pc) == "self" {
			took = time.Since(t0)
			break
		}
		if time.Since(t0) > 2*leaseTime {
			t.Fatalf("the surviving replica did not take over within %s", 2*leaseTime)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("takeover %s after the kill -9 (lease time %s)", took.Round(time.Millisecond), leaseTime)
	if took > leaseTime {
		t.Errorf("takeover took %s, more than the lease time %s", took, leaseTime)
	}
	all := append(append([]string{}, first...), second...)
	got = waitIncidents(survivor, all, 30*time.Second)
	for _, w := range all {
		if got[w] != 1 {
			t.Errorf("after the kill: workload %s has %d incidents, want 1 (all: %v)", w, got[w], got)
		}
	}

	// The store itself: each alert is one record of one incident.
	st, err := postgres.Open(context.Background(), dsn, incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var records, incs int
	if err := st.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM records), (SELECT COUNT(*) FROM incidents)`).Scan(&records, &incs); err != nil {
		t.Fatal(err)
	}
	if records != len(all) || incs != len(all) {
		t.Fatalf("the store holds %d records in %d incidents, want %d of each", records, incs, len(all))
	}
}

// Two people approve the same suggestion at the same version on two
// replicas at once: one wins, the other gets a 409 naming the winner's
// decision, and the audit trail stays one chain that verifies.
func TestHAConcurrentSignOffOnTwoReplicas(t *testing.T) {
	dsn, ps, pc := replicas(t, "")
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var list []signoff.Suggestion
	for i := 1; i <= 8; i++ {
		list = append(list, signoff.Suggestion{Incident: int64(i), Analysis: "1", Step: 0, Text: fmt.Sprintf("shop/checkout: cause %d", i)})
	}
	if _, err := signoff.NewService(st, nil, nil).Propose(ctx, list); err != nil {
		t.Fatal(err)
	}

	users := [2]*backend.User{{Login: "alice", Name: "Alice", Role: "Editor"}, {Login: "bob", Name: "Bob", Role: "Editor"}}
	jsonCT := map[string][]string{"Content-Type": {"application/json"}}
	for _, sg := range list {
		var wg sync.WaitGroup
		var statuses [2]int
		for i := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				upc := pc
				upc.User = users[i]
				body, _ := json.Marshal(signoff.DecideRequest{Decision: "approve", Version: 1})
				r := call(t, ps[i], upc, http.MethodPost, strings.TrimPrefix(signoff.RouteSuggestion, "/")+"/"+sg.Key()+"/decision", body, jsonCT)
				statuses[i] = r.Status
				if r.Status == http.StatusConflict && !strings.Contains(string(r.Body), "someone decided first") {
					t.Errorf("the 409 does not say who won: %s", r.Body)
				}
			}()
		}
		wg.Wait()
		if !(statuses == [2]int{200, 409} || statuses == [2]int{409, 200}) {
			t.Fatalf("%s: want one 200 and one 409, got %v", sg.Key(), statuses)
		}
	}
	es, err := st.Entries(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2*len(list) {
		t.Fatalf("the chain has %d entries, want %d proposals and %d approvals", len(es), len(list), len(list))
	}
	if v := audit.Verify(es); !v.OK {
		t.Fatalf("the audit chain does not verify: %+v", v)
	}
	// Each replica's own verification route agrees.
	admin := pc
	for i, p := range ps {
		r := call(t, p, admin, http.MethodGet, strings.TrimPrefix(signoff.RouteVerify, "/"), nil, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"ok":true`) {
			t.Fatalf("replica %d: verify: %d %s", i, r.Status, r.Body)
		}
	}
}

// BenchmarkPluginRSSOnPostgres is the plugin's memory with one instance on
// each store: the pgx driver's and the lease's cost beside SQLite's.
//
//	go test ./pkg/plugin -run '^$' -bench PluginRSSOnPostgres -benchtime 1x
func BenchmarkPluginRSSOnPostgres(b *testing.B) {
	t := &testing.T{}
	pg := harness.StartPostgres(b, harness.PostgresOptions{})
	dsn := pg.NewDatabase(b)
	measure := func(storage map[string]any, secure map[string]string) float64 {
		p, _ := startPlugin(t)
		defer p.Kill()
		pc := pluginContext(t, map[string]any{
			"prometheus": map[string]any{"url": "http://127.0.0.1:1", "timeoutSeconds": 1}, "alertmanager": map[string]any{"url": "http://127.0.0.1:1"},
			"kubernetes": map[string]any{"mode": "disabled"}, "storage": storage,
		}, secure)
		for i := 0; i < 3; i++ {
			if _, err := p.CheckHealth(context.Background(), pc); err != nil {
				b.Fatal(err)
			}
			call(t, p, pc, http.MethodGet, strings.TrimPrefix(incidents.RouteIncidents, "/"), nil, nil)
		}
		time.Sleep(2 * time.Second)
		kb, err := rssKB(p.Pid())
		if err != nil {
			b.Skip(err)
		}
		return float64(kb) / 1024
	}
	for i := 0; i < b.N; i++ {
		lite := measure(map[string]any{"path": filepath.Join(b.TempDir(), "mw.db")}, nil)
		pgMB := measure(map[string]any{"kind": "postgres"}, map[string]string{"storageDSN": dsn})
		b.ReportMetric(lite, "sqlite-instance-MB")
		b.ReportMetric(pgMB, "postgres-instance-MB")
		fmt.Printf("plugin RSS with one instance: SQLite %.1f MB, PostgreSQL %.1f MB (%+.1f MB)\n", lite, pgMB, pgMB-lite)
	}
}
