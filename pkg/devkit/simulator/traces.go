package simulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Trace categories of the reservoir.
const (
	catError = iota
	catSlow
	catNormal
	numCats
)

// keptTrace is a trace kept for output.
type keptTrace struct {
	t      time.Time
	hi, lo uint64
	spans  []spanRec
	code   int
	durMs  float64
	host   string // the mesh's external host (the gateway's http.url)
}

// reservoir keeps a uniform sample of error, slow and normal traces over
// the whole run (Algorithm R per category).
type reservoir struct {
	caps [numCats]int
	seen [numCats]int
	kept [numCats][]keptTrace
}

func newReservoir(max int) *reservoir {
	r := &reservoir{}
	r.caps[catError] = max / 2
	r.caps[catSlow] = max / 4
	r.caps[catNormal] = max - r.caps[catError] - r.caps[catSlow]
	return r
}

func (r *reservoir) offer(e *Engine, ctx *reqCtx, spans []spanRec, code int, durMs float64) {
	cat := catNormal
	switch {
	case code >= 500:
		cat = catError
	case durMs >= 500:
		cat = catSlow
	default:
		// Normal traces are plentiful: consider 1 in 100.
		if e.sample.IntN(100) != 0 {
			return
		}
	}
	r.seen[cat]++
	slot := -1
	if len(r.kept[cat]) < r.caps[cat] {
		slot = len(r.kept[cat])
		r.kept[cat] = append(r.kept[cat], keptTrace{})
	} else if j := e.sample.IntN(r.seen[cat]); j < r.caps[cat] {
		slot = j
	}
	if slot < 0 {
		return
	}
	r.kept[cat][slot] = keptTrace{t: ctx.t, hi: ctx.traceHi, lo: ctx.traceLo, spans: append([]spanRec(nil), spans...), code: code, durMs: durMs, host: e.mesh.Host}
}

func (r *reservoir) all() []keptTrace {
	var out []keptTrace
	for _, k := range r.kept {
		out = append(out, k...)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].t.Equal(out[j].t) {
			return out[i].t.After(out[j].t)
		}
		return out[i].hi < out[j].hi
	})
	return out
}

func traceBytes(hi, lo uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return b
}

// spanBytes derives the ID of span i (an index into the trace, never negative).
func spanBytes(hi, lo uint64, i int) []byte {
	if i < 0 {
		panic(fmt.Sprintf("simulator: span index %d", i))
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, splitmix(hi^lo^(uint64(i)+1)*0x2545f4914f6cdd1d))
	return b
}

func traceHex(ctx *reqCtx) string { return hex.EncodeToString(traceBytes(ctx.traceHi, ctx.traceLo)) }

func spanHex(ctx *reqCtx, i int) string {
	return hex.EncodeToString(spanBytes(ctx.traceHi, ctx.traceLo, i))
}

// ---- Tempo API shapes ----

// TempoSearchResponse is GET /api/search's answer.
type TempoSearchResponse struct {
	Traces  []TempoTraceSearchMetadata `json:"traces"`
	Metrics TempoSearchMetrics         `json:"metrics"`
}

// TempoTraceSearchMetadata is one trace in a search answer. Tempo renders
// the trace ID in hex without leading zeros and 64-bit numbers as strings.
type TempoTraceSearchMetadata struct {
	TraceID           string          `json:"traceID"`
	RootServiceName   string          `json:"rootServiceName"`
	RootTraceName     string          `json:"rootTraceName"`
	StartTimeUnixNano string          `json:"startTimeUnixNano"`
	DurationMs        int             `json:"durationMs,omitempty"`
	SpanSet           *TempoSpanSet   `json:"spanSet,omitempty"`
	SpanSets          []*TempoSpanSet `json:"spanSets,omitempty"`
}

// TempoSpanSet is the matched spans of a trace (TraceQL search).
type TempoSpanSet struct {
	Spans   []TempoSpan `json:"spans"`
	Matched int         `json:"matched"`
}

// TempoSpan is one matched span in a search answer.
type TempoSpan struct {
	SpanID            string         `json:"spanID"`
	Name              string         `json:"name,omitempty"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	DurationNanos     string         `json:"durationNanos"`
	Attributes        []OTLPKeyValue `json:"attributes,omitempty"`
}

// TempoSearchMetrics is the metrics block of a search answer.
type TempoSearchMetrics struct {
	InspectedTraces int    `json:"inspectedTraces,omitempty"`
	InspectedBytes  string `json:"inspectedBytes,omitempty"`
	CompletedJobs   int    `json:"completedJobs,omitempty"`
	TotalJobs       int    `json:"totalJobs,omitempty"`
}

// TempoTraceV1 is GET /api/traces/{id}'s answer: OTLP ResourceSpans under
// "batches", marshalled the way Tempo does (jsonpb: IDs base64, 64-bit
// integers as strings, enums by name).
type TempoTraceV1 struct {
	Batches []OTLPResourceSpans `json:"batches"`
}

// TempoTraceV2 is GET /api/v2/traces/{id}'s answer.
type TempoTraceV2 struct {
	Trace struct {
		ResourceSpans []OTLPResourceSpans `json:"resourceSpans"`
	} `json:"trace"`
}

// OTLPResourceSpans is one resource's spans.
type OTLPResourceSpans struct {
	Resource   OTLPResource     `json:"resource"`
	ScopeSpans []OTLPScopeSpans `json:"scopeSpans"`
}

// OTLPResource is the resource block.
type OTLPResource struct {
	Attributes []OTLPKeyValue `json:"attributes"`
}

// OTLPScopeSpans is one instrumentation scope's spans.
type OTLPScopeSpans struct {
	Scope OTLPScope  `json:"scope"`
	Spans []OTLPSpan `json:"spans"`
}

// OTLPScope names the instrumentation scope.
type OTLPScope struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// OTLPSpan is one span.
type OTLPSpan struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	ParentSpanID      string         `json:"parentSpanId,omitempty"`
	Name              string         `json:"name"`
	Kind              string         `json:"kind"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	EndTimeUnixNano   string         `json:"endTimeUnixNano"`
	Attributes        []OTLPKeyValue `json:"attributes,omitempty"`
	Status            OTLPStatus     `json:"status"`
}

// OTLPStatus is a span status; empty means unset.
type OTLPStatus struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// OTLPKeyValue is an attribute.
type OTLPKeyValue struct {
	Key   string       `json:"key"`
	Value OTLPAnyValue `json:"value"`
}

// OTLPAnyValue holds one attribute value (intValue is a string in jsonpb).
type OTLPAnyValue struct {
	StringValue *string `json:"stringValue,omitempty"`
	IntValue    *string `json:"intValue,omitempty"`
}

func strAttr(k, v string) OTLPKeyValue {
	return OTLPKeyValue{Key: k, Value: OTLPAnyValue{StringValue: &v}}
}
func intAttr(k string, v int) OTLPKeyValue {
	s := strconv.Itoa(v)
	return OTLPKeyValue{Key: k, Value: OTLPAnyValue{IntValue: &s}}
}

// dbSystem is the OpenTelemetry db.system.name of a database workload.
func dbSystem(s string) string {
	if s == "" {
		return "postgresql"
	}
	return s
}

func serviceName(p *pod) string {
	if p.w.Gateway {
		return p.w.App + "." + p.w.Namespace
	}
	return p.w.App
}

func (k *keptTrace) nanos(ms float64) int64 {
	return k.t.UnixNano() + int64(ms*1e6)
}

// root is the first span: the gateway's (or the load tester's) span.
func (k *keptTrace) root() spanRec { return k.spans[0] }

// searchMetadata is the trace as /api/search lists it.
func (k *keptTrace) searchMetadata() TempoTraceSearchMetadata {
	r := k.root()
	id := strings.TrimLeft(hex.EncodeToString(traceBytes(k.hi, k.lo)), "0")
	md := TempoTraceSearchMetadata{
		TraceID: id, RootServiceName: serviceName(r.pod), RootTraceName: r.name,
		StartTimeUnixNano: strconv.FormatInt(k.nanos(0), 10), DurationMs: int(k.durMs),
	}
	set := &TempoSpanSet{Matched: len(k.spans)}
	for i, s := range k.spans {
		if len(set.Spans) == 3 {
			break
		}
		set.Spans = append(set.Spans, TempoSpan{
			SpanID:            hex.EncodeToString(spanBytes(k.hi, k.lo, i)),
			Name:              s.name,
			StartTimeUnixNano: strconv.FormatInt(k.nanos(s.start), 10),
			DurationNanos:     strconv.FormatInt(int64(s.dur*1e6), 10),
			Attributes:        []OTLPKeyValue{strAttr("service.name", serviceName(s.pod))},
		})
	}
	md.SpanSet = set
	md.SpanSets = []*TempoSpanSet{set}
	return md
}

func (k *keptTrace) resourceSpans() []OTLPResourceSpans {
	b64 := base64.StdEncoding.EncodeToString
	traceID := b64(traceBytes(k.hi, k.lo))
	var order []*pod
	byPod := map[*pod][]OTLPSpan{}
	for i, s := range k.spans {
		sp := OTLPSpan{
			TraceID: traceID, SpanID: b64(spanBytes(k.hi, k.lo, i)), Name: s.name,
			StartTimeUnixNano: strconv.FormatInt(k.nanos(s.start), 10),
			EndTimeUnixNano:   strconv.FormatInt(k.nanos(s.start+s.dur), 10),
		}
		if s.parent >= 0 {
			sp.ParentSpanID = b64(spanBytes(k.hi, k.lo, s.parent))
		}
		switch {
		case s.db:
			sp.Kind = "SPAN_KIND_CLIENT"
			table := s.pod.w.App
			sp.Attributes = []OTLPKeyValue{strAttr("db.system.name", dbSystem(s.peerDB)), strAttr("db.namespace", table),
				strAttr("db.query.text", "SELECT id, status, total FROM "+table+" WHERE customer_id = $1"),
				strAttr("server.address", hostOf(s.peer, s.peerNS)), intAttr("server.port", s.peerPort)}
		case s.client && s.gateway:
			sp.Kind = "SPAN_KIND_SERVER"
			sp.Attributes = []OTLPKeyValue{strAttr("http.method", s.method), strAttr("http.url", "http://"+k.host+s.path),
				strAttr("upstream_cluster", fmt.Sprintf("outbound|%d||%s", s.peerPort, hostOf(s.peer, s.peerNS))),
				strAttr("response_flags", flagNames[s.flags]), strAttr("http.status_code", strconv.Itoa(s.code)),
				strAttr("istio.canonical_service", "istio-ingressgateway"), strAttr("istio.namespace", IstioNamespace)}
		case s.client:
			sp.Kind = "SPAN_KIND_CLIENT"
			sp.Attributes = []OTLPKeyValue{strAttr("http.request.method", s.method),
				strAttr("url.full", fmt.Sprintf("http://%s:%d%s", s.peer, s.peerPort, s.path)),
				strAttr("server.address", s.peer), intAttr("server.port", s.peerPort)}
			if s.code > 0 {
				sp.Attributes = append(sp.Attributes, intAttr("http.response.status_code", s.code))
			}
			if s.flags != flagNone {
				sp.Attributes = append(sp.Attributes, strAttr("error.type", flagNames[s.flags]))
			}
		default:
			sp.Kind = "SPAN_KIND_SERVER"
			sp.Attributes = []OTLPKeyValue{strAttr("http.request.method", s.method), strAttr("http.route", s.path),
				strAttr("url.path", s.path), intAttr("http.response.status_code", s.code)}
		}
		if s.code >= 500 || (s.client && s.code >= 400) {
			sp.Status = OTLPStatus{Code: "STATUS_CODE_ERROR", Message: s.errMsg}
		}
		if _, ok := byPod[s.pod]; !ok {
			order = append(order, s.pod)
		}
		byPod[s.pod] = append(byPod[s.pod], sp)
	}
	var out []OTLPResourceSpans
	for _, p := range order {
		scope := OTLPScope{Name: "github.com/homelab/" + p.w.App + "/otelhttp", Version: "0.60.0"}
		if p.w.Gateway {
			scope = OTLPScope{Name: "envoy", Version: IstioVersion}
		}
		out = append(out, OTLPResourceSpans{
			Resource: OTLPResource{Attributes: []OTLPKeyValue{
				strAttr("service.name", serviceName(p)), strAttr("service.version", p.version),
				strAttr("k8s.namespace.name", p.w.Namespace), strAttr("k8s.pod.name", p.name),
				strAttr("k8s.deployment.name", p.w.Name),
			}},
			ScopeSpans: []OTLPScopeSpans{{Scope: scope, Spans: byPod[p]}},
		})
	}
	return out
}

// TraceSummary describes one kept trace (for tests and tools).
type TraceSummary struct {
	TraceID  string
	Start    time.Time
	Duration time.Duration
	Status   int
	Services []string
}

// Traces lists the kept traces, most recent first.
func (e *Engine) Traces() []TraceSummary {
	var out []TraceSummary
	for _, k := range e.traces.all() {
		seen := map[string]bool{}
		var svcs []string
		for _, s := range k.spans {
			if n := serviceName(s.pod); !seen[n] {
				seen[n] = true
				svcs = append(svcs, n)
			}
		}
		out = append(out, TraceSummary{TraceID: hex.EncodeToString(traceBytes(k.hi, k.lo)), Start: k.t,
			Duration: time.Duration(k.durMs * float64(time.Millisecond)), Status: k.code, Services: svcs})
	}
	return out
}

// WriteTempoFiles writes the kept traces as Tempo's HTTP API would answer,
// laid out by request path under dir: api/search.json,
// api/traces/<id>.json and api/v2/traces/<id>.json (id: 32 hex digits).
func (e *Engine) WriteTempoFiles(dir string) error {
	all := e.traces.all()
	search := TempoSearchResponse{Traces: []TempoTraceSearchMetadata{}}
	var inspected int
	for _, k := range all {
		search.Traces = append(search.Traces, k.searchMetadata())
		inspected += len(k.spans) * 180
	}
	search.Metrics = TempoSearchMetrics{InspectedTraces: len(all), InspectedBytes: strconv.Itoa(inspected), CompletedJobs: 1, TotalJobs: 1}
	for _, d := range []string{"api/traces", "api/v2/traces"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := writeJSONFile(filepath.Join(dir, "api", "search.json"), search); err != nil {
		return err
	}
	for _, k := range all {
		id := hex.EncodeToString(traceBytes(k.hi, k.lo))
		rs := k.resourceSpans()
		if err := writeJSONFile(filepath.Join(dir, "api", "traces", id+".json"), TempoTraceV1{Batches: rs}); err != nil {
			return err
		}
		var v2 TempoTraceV2
		v2.Trace.ResourceSpans = rs
		if err := writeJSONFile(filepath.Join(dir, "api", "v2", "traces", id+".json"), v2); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
