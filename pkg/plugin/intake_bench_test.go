package plugin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/signals"
)

// The plugin's memory goals inside Grafana's pod (issue 18).
const (
	idleGoalMB = 30.0
	busyGoalMB = 60.0
)

// The alert storm BenchmarkIntake sends. Phase "grouped": Alertmanager
// grouping by namespace (kube-prometheus-stack's default route), 100
// deliveries of 100 alerts, every alert a new instance, one in ten of them
// already resolved when first sent (a pod that crash-looped and recovered
// within group_wait). Phase "single": group_by down to the pod gives
// one-alert deliveries: half resolve an alert of the storm, a quarter
// re-send one still firing (repeat_interval: dedupe, nothing to write), a
// quarter are new.
const (
	benchGroupedDeliveries = 100
	benchGroupedSize       = 100
	benchSingles           = 2000
	benchSettle            = 3 * time.Second
)

// benchWorkloads are 50 workloads in 5 namespaces, none of them MeshWatch's
// or the simulator's.
var benchWorkloads = map[string][]string{
	"media": {"jellyfin", "sonarr", "radarr", "prowlarr", "qbittorrent", "overseerr", "tautulli", "bazarr", "lidarr", "immich-server"},
	"shop": {"frontend", "checkout", "cart", "catalog", "search", "recommendation", "orders", "inventory", "shipping",
		"notification"},
	"payments": {"payments-api", "ledger", "fraud-scoring", "billing-worker", "invoice-renderer", "stripe-webhooks", "refunds",
		"currency-rates", "tax-engine", "reconciler"},
	"home": {"home-assistant", "mosquitto", "zigbee2mqtt", "node-red", "esphome", "frigate", "pihole", "unifi-controller",
		"paperless", "nextcloud"},
	"data": {"kafka-connect", "clickhouse-keeper", "airflow-scheduler", "airflow-webserver", "minio-gateway",
		"trino-coordinator", "superset", "metabase", "dbt-runner", "spark-history"},
}

var benchNamespaces = []string{"media", "shop", "payments", "home", "data"}

// BenchmarkIntake is the intake's throughput, latency and memory, measured
// on the built plugin binary over Grafana's plugin protocol: an Alertmanager
// webhook (payload version 4) per CallResource, presented by a Viewer
// service account as Grafana presents it. It prints alerts/s and the p50
// and p99 latency of a delivery, for 100-alert and for 1-alert deliveries;
// the plugin's RSS idle (instance built, store open, settled), after the
// 10,000 alerts of the grouped phase and at its peak (VmHWM), with the
// ratios to the goals (30 MB idle, 60 MB busy); and the anonymous part of
// the RSS (most of the rest is the binary's code and read-only data mapped
// in from its file), all from the same run. Every delivery must be answered
// 200 with every alert accepted, and the stored alert and firing counts
// (GET /incidents) must equal what was sent, so a failing intake cannot
// pass for a fast one.
//
// MESHWATCH_BASELINE_BIN: another build of the plugin (an earlier commit)
// whose idle RSS, taken the same way, is printed beside this build's.
//
//	go test ./pkg/plugin -run '^$' -bench BenchmarkIntake -benchtime 1x
func BenchmarkIntake(b *testing.B) {
	if _, err := procStatusKB(os.Getpid(), "VmRSS"); err != nil {
		b.Skip("no /proc/<pid>/status here:", err)
	}
	var bin string
	benchUnderT(b, "building the plugin binary", func(t *testing.T) { bin = buildPlugin(t) })
	var r benchRun
	for i := 0; i < b.N; i++ {
		r = benchRunIntake(b, bin) // a fresh process and database each time
	}
	b.StopTimer()
	mb := func(kb int) float64 { return float64(kb) / 1024 }
	g, s := r.grouped.stats(), r.single.stats()
	b.ReportMetric(g.alertsPerSec, "grouped-alerts/s")
	b.ReportMetric(g.p50, "grouped-p50-ms")
	b.ReportMetric(g.p99, "grouped-p99-ms")
	b.ReportMetric(s.alertsPerSec, "single-alerts/s")
	b.ReportMetric(s.p50, "single-p50-ms")
	b.ReportMetric(s.p99, "single-p99-ms")
	b.ReportMetric(mb(r.idleKB), "idle-MB")
	b.ReportMetric(mb(r.busyKB), "busy-MB")
	b.ReportMetric(mb(r.afterSinglesKB), "after-singles-MB")
	b.ReportMetric(mb(r.peakKB), "peak-MB")
	b.ReportMetric(mb(r.idleAnonKB), "idle-anon-MB")
	b.ReportMetric(mb(r.busyAnonKB), "busy-anon-MB")
	b.ReportMetric(mb(r.idleKB)/idleGoalMB, "idle/goal")
	b.ReportMetric(mb(r.busyKB)/busyGoalMB, "busy/goal")
	b.ReportMetric(mb(r.peakKB)/busyGoalMB, "peak/goal")
	b.ReportMetric(float64(r.dbBytes)/(1<<20), "db-MB")
	b.Logf("intake, %d-alert deliveries: %d alerts in %d deliveries, %.0f alerts/s, p50 %.1f ms, p99 %.1f ms per delivery",
		benchGroupedSize, g.alerts, g.deliveries, g.alertsPerSec, g.p50, g.p99)
	b.Logf("intake, 1-alert deliveries: %d alerts, %.0f alerts/s, p50 %.1f ms, p99 %.1f ms per delivery",
		s.alerts, s.alertsPerSec, s.p50, s.p99)
	b.Logf("plugin RSS: idle %.1f MB (%.2fx the %.0f MB goal; %.1f MB anonymous, the rest the binary mapped in); "+
		"after %d alerts %.1f MB (%.2fx the %.0f MB goal; %.1f MB anonymous); after the 1-alert run %.1f MB; "+
		"peak %.1f MB (%.2fx the busy goal); %d alerts in %d incidents, database %.1f MB",
		mb(r.idleKB), mb(r.idleKB)/idleGoalMB, idleGoalMB, mb(r.idleAnonKB),
		g.alerts, mb(r.busyKB), mb(r.busyKB)/busyGoalMB, busyGoalMB, mb(r.busyAnonKB), mb(r.afterSinglesKB),
		mb(r.peakKB), mb(r.peakKB)/busyGoalMB, r.stored, r.incidents, float64(r.dbBytes)/(1<<20))

	if base := os.Getenv("MESHWATCH_BASELINE_BIN"); base != "" {
		baseIdle, err := benchIdleRSS(b, base)
		if err != nil {
			b.Fatalf("baseline %s: %v", base, err)
		}
		b.ReportMetric(mb(baseIdle), "baseline-idle-MB")
		b.ReportMetric(float64(r.idleKB)/float64(baseIdle), "idle/baseline")
		b.Logf("baseline %s idle %.1f MB (taken the same way); this build %.2fx", base, mb(baseIdle), float64(r.idleKB)/float64(baseIdle))
	}
}

// benchRun is what one run of the scenario measured.
type benchRun struct {
	grouped, single                        benchPhase
	idleKB, busyKB, afterSinglesKB, peakKB int
	// The anonymous part of idleKB and busyKB (Go's heap and stacks,
	// SQLite's caches); the rest is the binary's code and data mapped in.
	idleAnonKB, busyAnonKB int
	stored, incidents      int
	dbBytes                int64
}

type benchPhase struct {
	alerts  int
	wall    time.Duration
	latency []time.Duration
}

type benchPhaseStats struct {
	alerts, deliveries int
	alertsPerSec       float64
	p50, p99           float64 // ms
}

func (p benchPhase) stats() benchPhaseStats {
	lat := slices.Clone(p.latency)
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(float64(len(lat))*q+0.999999) - 1 // nearest rank
		return float64(lat[max(i, 0)]) / float64(time.Millisecond)
	}
	return benchPhaseStats{alerts: p.alerts, deliveries: len(lat), alertsPerSec: float64(p.alerts) / p.wall.Seconds(),
		p50: pct(0.50), p99: pct(0.99)}
}

// benchSettings are the instance's settings: a fresh database, every
// dependency a closed loopback port (the reconcile with Alertmanager fails
// at once and adds nothing), Kubernetes off.
func benchSettings(b *testing.B) (pc backend.PluginContext, dbPath string) {
	down := benchClosedURL(b)
	dbPath = filepath.Join(b.TempDir(), "meshwatch.db")
	raw, err := json.Marshal(map[string]any{
		"prometheus": map[string]any{"url": down, "timeoutSeconds": 1}, "loki": map[string]any{"url": down},
		"tempo": map[string]any{"url": down}, "alertmanager": map[string]any{"url": down, "timeoutSeconds": 1},
		"ollama": map[string]any{"url": down}, "kubernetes": map[string]any{"mode": "disabled"},
		"storage": map[string]any{"path": dbPath},
	})
	if err != nil {
		b.Fatal(err)
	}
	pc = backend.PluginContext{
		OrgID: 1, PluginID: "meshwatch-mesh-app",
		// Alertmanager presents a Viewer service account's token; Grafana
		// hands the plugin that user.
		User:                &backend.User{Login: "sa-1-meshwatch-alert-intake", Name: "meshwatch-alert-intake", Role: "Viewer"},
		AppInstanceSettings: &backend.AppInstanceSettings{JSONData: raw, Updated: time.Unix(1700000000, 0)},
		GrafanaConfig:       backend.NewGrafanaCfg(map[string]string{"GF_APP_URL": "http://127.0.0.1:3000/"}),
	}
	return pc, dbPath
}

// benchIdle is a plugin process with its app instance up.
type benchIdle struct {
	p                  *pluginhost.Plugin
	pc                 backend.PluginContext
	dbPath             string
	idleKB, idleAnonKB int
}

// benchStartIdle starts a plugin binary, brings its app instance up with a
// first request (GET /incidents: the incident store opened and migrated),
// lets it settle and reads its RSS.
func benchStartIdle(b *testing.B, bin string, logs *syncBuffer) (benchIdle, error) {
	var ip benchIdle
	p, err := startBinaryLog(bin, logs)
	if err != nil {
		return ip, err
	}
	ip.p = p
	ip.pc, ip.dbPath = benchSettings(b)
	if p.Pid() == 0 {
		p.Kill()
		return ip, fmt.Errorf("the pid of %s is unknown", bin)
	}
	if _, err := benchCall(p, ip.pc, http.MethodGet, "incidents", nil); err != nil {
		p.Kill()
		return ip, err
	}
	time.Sleep(benchSettle)
	ip.idleKB, err = procStatusKB(p.Pid(), "VmRSS")
	if err == nil {
		ip.idleAnonKB, err = procStatusKB(p.Pid(), "RssAnon")
	}
	if err != nil {
		p.Kill()
		return ip, err
	}
	return ip, nil
}

// benchIdleRSS is the idle RSS of another build, taken as benchRunIntake
// takes it.
func benchIdleRSS(b *testing.B, bin string) (int, error) {
	ip, err := benchStartIdle(b, bin, &syncBuffer{})
	if err != nil {
		return 0, err
	}
	ip.p.Kill()
	return ip.idleKB, nil
}

// benchRunIntake runs the scenario once on a fresh plugin process.
func benchRunIntake(b *testing.B, bin string) benchRun {
	var r benchRun
	logs := &syncBuffer{}
	ip, err := benchStartIdle(b, bin, logs)
	if err != nil {
		b.Fatalf("starting the plugin: %v\n%s", err, logs)
	}
	p, pc := ip.p, ip.pc
	defer p.Kill()
	fail := func(format string, args ...any) {
		b.Helper()
		log := logs.String()
		if len(log) > 8<<10 {
			log = "…" + log[len(log)-8<<10:]
		}
		b.Fatalf(format+"\nplugin log:\n%s", append(args, log)...)
	}
	r.idleKB, r.idleAnonKB = ip.idleKB, ip.idleAnonKB
	pid := p.Pid()

	st := newBenchStorm(b, time.Now().UTC())
	grouped := st.grouped()
	r.grouped = benchSendAll(p, pc, grouped, fail)
	r.busyKB, err = procStatusKB(pid, "VmRSS")
	if err == nil {
		r.busyAnonKB, err = procStatusKB(pid, "RssAnon")
	}
	if err != nil {
		fail("%v", err)
	}
	st.verify(p, pc, fail, "after the grouped deliveries")

	singles := st.singles(time.Now().UTC())
	r.single = benchSendAll(p, pc, singles, fail)
	if r.afterSinglesKB, err = procStatusKB(pid, "VmRSS"); err != nil {
		fail("%v", err)
	}
	if r.peakKB, err = procStatusKB(pid, "VmHWM"); err != nil {
		fail("%v", err)
	}
	r.stored, r.incidents = st.verify(p, pc, fail, "at the end")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(ip.dbPath + suffix); err == nil {
			r.dbBytes += fi.Size()
		}
	}
	return r
}

// benchDelivery is one webhook POST, its body encoded before the clock
// starts.
type benchDelivery struct {
	body   []byte
	alerts int
}

// benchSendAll posts the deliveries one after another, as one Alertmanager
// notifies one receiver, and times each. Each must be answered 200 with
// every alert accepted: that answer is sent only after the commit.
func benchSendAll(p *pluginhost.Plugin, pc backend.PluginContext, ds []benchDelivery, fail func(string, ...any)) benchPhase {
	ph := benchPhase{latency: make([]time.Duration, 0, len(ds))}
	start := time.Now()
	for i, d := range ds {
		t0 := time.Now()
		resp, err := benchCall(p, pc, http.MethodPost, "intake/alertmanager", d.body)
		ph.latency = append(ph.latency, time.Since(t0))
		if err != nil {
			fail("delivery %d: %v", i, err)
		}
		var got struct {
			Accepted int               `json:"accepted"`
			Rejected []json.RawMessage `json:"rejected"`
			Error    string            `json:"error"`
		}
		if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &got) != nil || got.Accepted != d.alerts || len(got.Rejected) != 0 {
			fail("delivery %d of %d alerts: %d %s", i, d.alerts, resp.Status, resp.Body)
		}
		ph.alerts += d.alerts
	}
	ph.wall = time.Since(start)
	return ph
}

// benchCall makes one resource call as Grafana relays it.
func benchCall(p *pluginhost.Plugin, pc backend.PluginContext, method, path string, body []byte) (*pluginhost.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.CallResource(ctx, &backend.CallResourceRequest{
		PluginContext: pc, Path: path, Method: method, URL: "/api/plugins/meshwatch-mesh-app/resources/" + path, Body: body,
		Headers: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Alertmanager/0.31.1"}},
	})
}

// benchStorm generates the alerts and keeps what the store must hold after
// them.
type benchStorm struct {
	b     *testing.B
	t0    time.Time
	sent  []benchAlert // the grouped phase's alerts, in sending order
	next  map[string]int
	fps   map[string]bool // distinct alert instances sent
	state map[string]string
}

func newBenchStorm(b *testing.B, now time.Time) *benchStorm {
	return &benchStorm{b: b, t0: now.Truncate(time.Millisecond), next: map[string]int{}, fps: map[string]bool{}, state: map[string]string{}}
}

// benchAlert is template.Alert as Alertmanager's webhook sends it.
type benchAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

const benchZeroTime = "0001-01-01T00:00:00Z"

func benchTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

const benchKPS = "monitoring/kube-prometheus-stack-prometheus"

func benchGenURL(expr string) string {
	return "http://kube-prometheus-stack-prometheus.monitoring:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}

var (
	benchCrashLoopURL = benchGenURL(`max_over_time(kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace=~".*",reason="CrashLoopBackOff"}[5m]) >= 1`)
	benchWaitingURL   = benchGenURL(`kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace=~".*",reason!="CrashLoopBackOff"} > 0`)
	benchNotReadyURL  = benchGenURL(`sum by (namespace, pod, cluster) (max by (namespace, pod, cluster) (kube_pod_status_phase{job="kube-state-metrics",namespace=~".*",phase=~"Pending|Unknown|Failed"}) * on (namespace, pod, cluster) group_left (owner_kind) topk by (namespace, pod, cluster) (1, max by (namespace, pod, owner_kind, cluster) (kube_pod_owner{owner_kind!="Job"}))) > 0`)
	benchErrorRateURL = benchGenURL(`sum by (namespace, app, instance) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (namespace, app, instance) (rate(http_requests_total[5m])) > 0.05`)
)

// benchSafeName writes n in Kubernetes' safe alphabet, width characters.
func benchSafeName(n uint64, width int) string {
	const a = signals.SafeAlphabet
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = a[n%uint64(len(a))]
		n /= uint64(len(a))
	}
	return string(out)
}

// instance is alert instance j of workload wl in namespace ns: each kind
// (kube-prometheus-stack's KubePodCrashLooping, KubeContainerWaiting and
// KubePodNotReady, and a user's HighErrorRate keyed by app and instance)
// once per pod; pods of one ReplicaSet per ten.
func (s *benchStorm) instance(ns, wl string, wi, j int, firing bool, startsAt, endsAt time.Time) benchAlert {
	k := j / 4
	pod := wl + "-" + benchSafeName(uint64(wi*7919+k/10*104729+12345678), 10) + "-" + benchSafeName(uint64(k*7+wi), 5)
	if got := signals.WorkloadOf(pod); got != wl {
		s.b.Fatalf("the pod name %s reads as workload %q, not %q", pod, got, wl)
	}
	ip := fmt.Sprintf("10.42.%d.%d", wi, k%250+2)
	ksm := func(name string) map[string]string {
		return map[string]string{"alertname": name, "namespace": ns, "pod": pod, "container": wl, "endpoint": "http",
			"instance": "10.42.0.17:8080", "job": "kube-state-metrics", "prometheus": benchKPS,
			"service": "kube-prometheus-stack-kube-state-metrics", "severity": "warning",
			"uid": fmt.Sprintf("5f0e2d1c-%04x-4c9d-9e8f-%012x", wi, k)}
	}
	var a benchAlert
	switch j % 4 {
	case 0:
		a.Labels = ksm("KubePodCrashLooping")
		a.Labels["reason"] = "CrashLoopBackOff"
		a.Annotations = map[string]string{
			"description": fmt.Sprintf("Pod %s/%s (%s) is in waiting state (reason: \"CrashLoopBackOff\").", ns, pod, wl),
			"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
			"summary":     "Pod is crash looping."}
		a.GeneratorURL = benchCrashLoopURL
	case 1:
		a.Labels = ksm("KubeContainerWaiting")
		a.Labels["reason"] = "CreateContainerConfigError"
		a.Annotations = map[string]string{
			"description": fmt.Sprintf("pod/%s in namespace %s on container %s has been in waiting state for longer than 1 hour. (reason: \"CreateContainerConfigError\") on cluster .", pod, ns, wl),
			"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubecontainerwaiting",
			"summary":     "Pod container waiting longer than 1 hour"}
		a.GeneratorURL = benchWaitingURL
	case 2:
		a.Labels = map[string]string{"alertname": "KubePodNotReady", "namespace": ns, "pod": pod, "prometheus": benchKPS, "severity": "warning"}
		a.Annotations = map[string]string{
			"description": fmt.Sprintf("Pod %s/%s has been in a non-ready state for longer than 15 minutes on cluster .", ns, pod),
			"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodnotready",
			"summary":     "Pod has been in a non-ready state for more than 15 minutes."}
		a.GeneratorURL = benchNotReadyURL
	default:
		a.Labels = map[string]string{"alertname": "HighErrorRate", "app": wl, "namespace": ns, "instance": ip + ":8080",
			"job": wl, "prometheus": benchKPS, "severity": "critical"}
		a.Annotations = map[string]string{
			"description": fmt.Sprintf("5xx ratio of app %s (%s) in %s is 12.5%% over the last 10m.", wl, ip, ns),
			"summary":     wl + " answers more than 5% of requests with 5xx"}
		a.GeneratorURL = benchErrorRateURL
	}
	a.Fingerprint = incident.FingerprintOf(a.Labels)
	a.StartsAt, a.Status, a.EndsAt = benchTime(startsAt), "firing", benchZeroTime
	if !firing {
		a.Status, a.EndsAt = "resolved", benchTime(endsAt)
	}
	return a
}

// fresh is the next new alert of workload wi of ns.
func (s *benchStorm) fresh(ns string, wi int, firing bool) benchAlert {
	wl := benchWorkloads[ns][wi]
	j := s.next[ns+"/"+wl]
	s.next[ns+"/"+wl]++
	starts := s.t0.Add(-90 * time.Minute).Add(time.Duration(j) * 17 * time.Second)
	a := s.instance(ns, wl, wi+10*slices.Index(benchNamespaces, ns), j, firing, starts, starts.Add(2*time.Minute))
	if s.fps[a.Fingerprint] {
		s.b.Fatalf("alert %v repeats a fingerprint", a.Labels)
	}
	s.fps[a.Fingerprint] = true
	s.state[a.Fingerprint] = a.Status
	return a
}

// grouped is the storm as Alertmanager grouping by namespace sends it: the
// namespaces in turn, each delivery ten new alerts of each of the
// namespace's ten workloads, one of each ten resolved (a workload whose
// alerts all arrive resolved, long after they ended, would rightly make a
// new resolved incident per delivery).
func (s *benchStorm) grouped() []benchDelivery {
	var out []benchDelivery
	for d := 0; d < benchGroupedDeliveries; d++ {
		ns := benchNamespaces[d%len(benchNamespaces)]
		alerts := make([]benchAlert, 0, benchGroupedSize)
		for i := 0; i < benchGroupedSize; i++ {
			// Workload i%10, one of its ten alerts (row i/10) resolved.
			a := s.fresh(ns, i%10, (i%10+i/10)%10 != 9)
			alerts = append(alerts, a)
			s.sent = append(s.sent, a)
		}
		out = append(out, s.encode(fmt.Sprintf(`{}:{namespace=%q}`, ns), map[string]string{"namespace": ns}, alerts))
	}
	return out
}

// singles are one-alert deliveries (group_by namespace and pod): in every
// four, two resolve an alert of the storm, one re-sends one still firing,
// one is new.
func (s *benchStorm) singles(now time.Time) []benchDelivery {
	var firing []benchAlert
	for _, a := range s.sent {
		if a.Status == "firing" {
			firing = append(firing, a)
		}
	}
	var out []benchDelivery
	resolveAt, repeatAt := 0, 0
	for i := 0; i < benchSingles; i++ {
		var a benchAlert
		switch i % 4 {
		case 0, 1: // resolve: same labels and startsAt, now with endsAt
			a = firing[resolveAt*7%len(firing)]
			resolveAt++
			if s.state[a.Fingerprint] != "firing" {
				s.b.Fatalf("the storm resolves %s twice", a.Fingerprint)
			}
			a.Status, a.EndsAt = "resolved", benchTime(now.Add(-time.Second))
			s.state[a.Fingerprint] = "resolved"
		case 2: // a repeat of one still firing: dedupe
			for {
				a = firing[(repeatAt*7+3)%len(firing)]
				repeatAt++
				if s.state[a.Fingerprint] == "firing" {
					break
				}
			}
		default:
			ns := benchNamespaces[(i/4)%len(benchNamespaces)]
			a = s.fresh(ns, (i/20)%len(benchWorkloads[ns]), true)
		}
		groupLabels := map[string]string{"namespace": a.Labels["namespace"], "pod": a.Labels["pod"]}
		key := fmt.Sprintf(`{}:{namespace=%q, pod=%q}`, a.Labels["namespace"], a.Labels["pod"])
		out = append(out, s.encode(key, groupLabels, []benchAlert{a}))
	}
	return out
}

// encode writes one webhook body as Alertmanager's notify/webhook does.
func (s *benchStorm) encode(groupKey string, groupLabels map[string]string, alerts []benchAlert) benchDelivery {
	status := "resolved"
	var common, commonAnn map[string]string
	for i, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
		if i == 0 {
			common, commonAnn = maps.Clone(a.Labels), maps.Clone(a.Annotations)
			continue
		}
		for _, m := range []struct{ acc, of map[string]string }{{common, a.Labels}, {commonAnn, a.Annotations}} {
			for k, v := range m.acc {
				if m.of[k] != v {
					delete(m.acc, k)
				}
			}
		}
	}
	body, err := json.Marshal(map[string]any{
		"receiver": "meshwatch", "status": status, "alerts": alerts,
		"groupLabels": groupLabels, "commonLabels": common, "commonAnnotations": commonAnn,
		"externalURL": "http://kube-prometheus-stack-alertmanager.monitoring:9093",
		"version":     "4", "groupKey": groupKey, "truncatedAlerts": 0,
	})
	if err != nil {
		s.b.Fatal(err)
	}
	return benchDelivery{body: body, alerts: len(alerts)}
}

// verify reads GET /incidents and checks that the store holds every alert
// instance sent, once (dedupe), as many firing as the storm left firing,
// in one incident per workload; it returns the alerts and incidents.
func (s *benchStorm) verify(p *pluginhost.Plugin, pc backend.PluginContext, fail func(string, ...any), when string) (int, int) {
	resp, err := benchCall(p, pc, http.MethodGet, "incidents", nil)
	if err != nil {
		fail("GET incidents %s: %v", when, err)
	}
	var list struct {
		Incidents []struct {
			Key    incident.Key `json:"key"`
			Alerts int          `json:"alerts"`
			Firing int          `json:"firing"`
		} `json:"incidents"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &list) != nil {
		fail("GET incidents %s: %d %.500s", when, resp.Status, resp.Body)
	}
	alerts, firing := 0, 0
	for _, in := range list.Incidents {
		alerts += in.Alerts
		firing += in.Firing
	}
	wantFiring := 0
	for _, st := range s.state {
		if st == "firing" {
			wantFiring++
		}
	}
	workloads := 0
	for _, wls := range benchWorkloads {
		workloads += len(wls)
	}
	if alerts != len(s.fps) || firing != wantFiring || len(list.Incidents) != workloads {
		fail("%s the store holds %d alerts (%d firing) in %d incidents; sent %d distinct alerts (%d firing) of %d workloads",
			when, alerts, firing, len(list.Incidents), len(s.fps), wantFiring, workloads)
	}
	return alerts, len(list.Incidents)
}

// procStatusKB reads a kB field (VmRSS, VmHWM, RssAnon) of
// /proc/<pid>/status.
func procStatusKB(pid int, field string) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

// benchClosedURL is an http URL on loopback where nothing listens.
func benchClosedURL(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// benchUnderT runs f with a *testing.T for the helpers protocol_test.go
// shares (they take one), in its own goroutine so that their t.Fatal ends
// only f, and fails the benchmark if f failed. A bare testing.T cannot
// print (its Fatal panics, recovered here), so a helper's message is lost:
// what failed is named instead.
func benchUnderT(b *testing.B, what string, f func(t *testing.T)) {
	b.Helper()
	t := &testing.T{}
	var panicked any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		f(t)
	}()
	<-done
	if panicked != nil || t.Failed() {
		b.Fatalf("%s failed (%v); run it by hand to see why", what, panicked)
	}
}
