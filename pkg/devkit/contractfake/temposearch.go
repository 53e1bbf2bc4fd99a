package contractfake

// The Tempo contract fake's trace search, built from Tempo's documented
// HTTP API (grafana.com/docs/tempo/latest/api_docs, "Search", "Query" and
// "Query V2"; the stored docs/sources/tempo/api_docs/_index.md of
// grafana/tempo): GET /api/search with either a TraceQL query (q) or
// tag-based search (tags in logfmt, each value a case-insensitive
// substring of a span or resource attribute; minDuration and maxDuration on
// the trace's duration), and for both start and end (Unix seconds) and
// limit (default 20); the answer is {"traces": [{traceID, rootServiceName,
// rootTraceName, startTimeUnixNano, durationMs, spanSets}], "metrics": {…}}.
// GET /api/traces/<id> and /api/v2/traces/<id> answer the trace's OTLP JSON.
//
// It answers from trace files laid out by request path, as the simulator
// writes them (simulator.Engine.WriteTempoFiles): api/search.json (every
// trace, unfiltered), api/traces/<32 hex>.json and
// api/v2/traces/<32 hex>.json. Filtering is the fake's own: it understands
// the TraceQL subset MeshWatch sends — one spanset filter { a && b && … }
// whose conditions compare an attribute (resource.x, span.x or .x) or an
// intrinsic (status, duration, name, kind) with =, !=, >, >=, < or <= to a
// string, a number, a duration or a status (error, ok, unset) — and
// answers 400 for anything else, so a client relying on more is caught.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TempoWithTraces is Tempo (the buildinfo and readiness endpoints) plus
// trace search and trace by id, answered from the trace files under dir
// (see above). It panics when the files cannot be read (they are the
// caller's own fixture).
func TempoWithTraces(t Owner, version, dir string) *httptest.Server {
	t.Helper()
	store, err := loadTraces(dir)
	if err != nil {
		panic(fmt.Sprintf("contractfake: Tempo traces in %s: %v", dir, err))
	}
	mux := tempoMux(version)
	mux.HandleFunc("GET /api/search", store.search)
	for _, prefix := range []string{"/api/traces/", "/api/v2/traces/"} {
		mux.HandleFunc("GET "+prefix+"{id}", func(w http.ResponseWriter, r *http.Request) {
			id := strings.ToLower(r.PathValue("id"))
			if !regexp.MustCompile(`^[0-9a-f]{1,32}$`).MatchString(id) {
				http.Error(w, "invalid trace id", http.StatusBadRequest)
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(prefix, "/")), pad32(id)+".json"))
			if err != nil {
				http.Error(w, "trace not found", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func pad32(id string) string { return strings.Repeat("0", max(0, 32-len(id))) + id }

// ---- the stored traces ----

type kv struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string         `json:"stringValue"`
		IntValue    json.RawMessage `json:"intValue"`
		BoolValue   *bool           `json:"boolValue"`
		DoubleValue *float64        `json:"doubleValue"`
	} `json:"value"`
}

func (a kv) str() string {
	v := a.Value
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case len(v.IntValue) > 0:
		return strings.Trim(string(v.IntValue), `"`)
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	case v.DoubleValue != nil:
		return strconv.FormatFloat(*v.DoubleValue, 'g', -1, 64)
	}
	return ""
}

type otlpTrace struct {
	Batches []struct {
		Resource struct {
			Attributes []kv `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []struct {
				SpanID            string `json:"spanId"`
				Name              string `json:"name"`
				Kind              string `json:"kind"`
				StartTimeUnixNano string `json:"startTimeUnixNano"`
				EndTimeUnixNano   string `json:"endTimeUnixNano"`
				Attributes        []kv   `json:"attributes"`
				Status            struct {
					Code string `json:"code"`
				} `json:"status"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"batches"`
}

// span is one span flattened for matching.
type span struct {
	id, name, kind, status string
	start                  int64
	dur                    time.Duration
	resource, attrs        map[string]string
}

type storedTrace struct {
	meta  map[string]any // the search entry as stored, spanSet(s) removed
	id    string         // as the search answer has it
	start int64          // Unix ns
	durMs int
	spans []span
}

type traceStore struct{ traces []storedTrace }

func loadTraces(dir string) (*traceStore, error) {
	b, err := os.ReadFile(filepath.Join(dir, "api", "search.json"))
	if err != nil {
		return nil, err
	}
	var all struct {
		Traces []map[string]any `json:"traces"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("api/search.json: %w", err)
	}
	s := &traceStore{}
	for _, m := range all.Traces {
		id, _ := m["traceID"].(string)
		start, _ := strconv.ParseInt(fmt.Sprint(m["startTimeUnixNano"]), 10, 64)
		dur, _ := m["durationMs"].(float64)
		delete(m, "spanSet")
		delete(m, "spanSets")
		st := storedTrace{meta: m, id: id, start: start, durMs: int(dur)}
		tb, err := os.ReadFile(filepath.Join(dir, "api", "traces", pad32(strings.ToLower(id))+".json"))
		if err != nil {
			return nil, err
		}
		var tr otlpTrace
		if err := json.Unmarshal(tb, &tr); err != nil {
			return nil, fmt.Errorf("trace %s: %w", id, err)
		}
		for _, bt := range tr.Batches {
			res := map[string]string{}
			for _, a := range bt.Resource.Attributes {
				res[a.Key] = a.str()
			}
			for _, ss := range bt.ScopeSpans {
				for _, sp := range ss.Spans {
					x := span{id: sp.SpanID, name: sp.Name, kind: strings.ToLower(strings.TrimPrefix(sp.Kind, "SPAN_KIND_")),
						resource: res, attrs: map[string]string{}}
					switch sp.Status.Code {
					case "STATUS_CODE_ERROR":
						x.status = "error"
					case "STATUS_CODE_OK":
						x.status = "ok"
					default:
						x.status = "unset"
					}
					x.start, _ = strconv.ParseInt(sp.StartTimeUnixNano, 10, 64)
					end, _ := strconv.ParseInt(sp.EndTimeUnixNano, 10, 64)
					x.dur = time.Duration(end - x.start)
					for _, a := range sp.Attributes {
						x.attrs[a.Key] = a.str()
					}
					st.spans = append(st.spans, x)
				}
			}
		}
		s.traces = append(s.traces, st)
	}
	sort.SliceStable(s.traces, func(i, j int) bool { return s.traces[i].start > s.traces[j].start })
	return s, nil
}

// ---- search ----

func (s *traceStore) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(format string, args ...any) { http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest) }
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad("invalid limit: %q", v)
			return
		}
		limit = n
	}
	var from, to int64 = 0, 1<<63 - 1
	for name, dst := range map[string]*int64{"start": &from, "end": &to} {
		if v := q.Get(name); v != "" {
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				bad("invalid %s: %q", name, v)
				return
			}
			*dst = sec * int64(time.Second)
		}
	}
	if q.Get("end") != "" {
		to += int64(time.Second) - 1 // the end second is included
	}
	var minD, maxD time.Duration
	for name, dst := range map[string]*time.Duration{"minDuration": &minD, "maxDuration": &maxD} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				bad("invalid %s: %q", name, v)
				return
			}
			*dst = d
		}
	}
	var match func(t *storedTrace) ([]span, bool)
	if tq := q.Get("q"); tq != "" {
		conds, err := parseTraceQL(tq)
		if err != nil {
			bad("contract fake: unsupported TraceQL %q: %v", tq, err)
			return
		}
		match = func(t *storedTrace) ([]span, bool) {
			var hit []span
			for _, sp := range t.spans {
				if all(conds, sp) {
					hit = append(hit, sp)
				}
			}
			return hit, len(hit) > 0
		}
	} else {
		tags, err := parseLogfmt(q.Get("tags"))
		if err != nil {
			bad("invalid tags: %v", err)
			return
		}
		match = func(t *storedTrace) ([]span, bool) {
			d := time.Duration(t.durMs) * time.Millisecond
			if (minD > 0 && d < minD) || (maxD > 0 && d > maxD) {
				return nil, false
			}
			for k, v := range tags {
				if !anySpanHas(t.spans, k, v) {
					return nil, false
				}
			}
			return nil, true
		}
	}
	out := struct {
		Traces  []map[string]any `json:"traces"`
		Metrics map[string]any   `json:"metrics"`
	}{Traces: []map[string]any{}}
	for i := range s.traces {
		t := &s.traces[i]
		if t.start < from || t.start > to {
			continue
		}
		hit, ok := match(t)
		if !ok {
			continue
		}
		if len(out.Traces) == limit {
			break
		}
		m := map[string]any{}
		for k, v := range t.meta {
			m[k] = v
		}
		if hit != nil {
			set := map[string]any{"matched": len(hit), "spans": spanSet(hit, 3)}
			m["spanSet"], m["spanSets"] = set, []any{set}
		}
		out.Traces = append(out.Traces, m)
	}
	out.Metrics = map[string]any{"inspectedTraces": len(s.traces), "completedJobs": 1, "totalJobs": 1}
	writeJSON(w, out)
}

func spanSet(spans []span, spss int) []map[string]any {
	var out []map[string]any
	for _, sp := range spans {
		if len(out) == spss {
			break
		}
		out = append(out, map[string]any{"spanID": sp.id, "name": sp.name,
			"startTimeUnixNano": strconv.FormatInt(sp.start, 10), "durationNanos": strconv.FormatInt(int64(sp.dur), 10)})
	}
	return out
}

func anySpanHas(spans []span, key, sub string) bool {
	sub = strings.ToLower(sub)
	for _, sp := range spans {
		for _, m := range []map[string]string{sp.attrs, sp.resource} {
			if v, ok := m[key]; ok && strings.Contains(strings.ToLower(v), sub) {
				return true
			}
		}
	}
	return false
}

// parseLogfmt reads key=value pairs separated by spaces; a value may be
// double-quoted.
func parseLogfmt(s string) (map[string]string, error) {
	out := map[string]string{}
	re := regexp.MustCompile(`\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)`)
	rest := strings.TrimSpace(s)
	for rest != "" {
		m := re.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("not logfmt near %q", rest)
		}
		k, v := rest[m[2]:m[3]], rest[m[4]:m[5]]
		if strings.HasPrefix(v, `"`) {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, err
			}
			v = uq
		}
		out[k] = v
		rest = strings.TrimSpace(rest[m[1]:])
	}
	return out, nil
}

// cond is one condition of a spanset filter.
type cond struct {
	scope, key, op string // scope: resource, span, "" (either) or intrinsic
	str            string
	num            float64
	isNum, isDur   bool
}

var (
	reFilter = regexp.MustCompile(`^\{(.*)\}$`)
	reCond   = regexp.MustCompile(`^\s*(resource\.|span\.|\.)?([A-Za-z_][\w.\-]*)\s*(!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$`)
)

func parseTraceQL(q string) ([]cond, error) {
	m := reFilter.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return nil, fmt.Errorf("only one spanset filter { … } is understood")
	}
	var out []cond
	for _, part := range strings.Split(m[1], "&&") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		c := reCond.FindStringSubmatch(part)
		if c == nil || strings.Contains(part, "||") {
			return nil, fmt.Errorf("condition %q", strings.TrimSpace(part))
		}
		x := cond{scope: strings.TrimSuffix(c[1], "."), key: c[2], op: c[3]}
		if c[1] == "" {
			switch x.key {
			case "status", "duration", "name", "kind":
				x.scope = "intrinsic"
			default:
				return nil, fmt.Errorf("unscoped attribute %q needs a leading dot", x.key)
			}
		}
		v := c[4]
		switch {
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				return nil, err
			}
			x.str = s
		case x.scope == "intrinsic" && x.key == "duration":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, err
			}
			x.num, x.isNum, x.isDur = float64(d), true, true
		default:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				x.num, x.isNum = f, true
			} else if x.scope == "intrinsic" && (x.key == "status" || x.key == "kind") {
				x.str = v
			} else {
				return nil, fmt.Errorf("value %q", v)
			}
		}
		if !x.isNum && x.op != "=" && x.op != "!=" {
			return nil, fmt.Errorf("operator %s on a string", x.op)
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty filter")
	}
	return out, nil
}

func all(conds []cond, sp span) bool {
	for _, c := range conds {
		var v string
		var ok bool
		switch c.scope {
		case "intrinsic":
			switch c.key {
			case "status":
				v, ok = sp.status, true
			case "name":
				v, ok = sp.name, true
			case "kind":
				v, ok = sp.kind, true
			case "duration":
				v, ok = strconv.FormatInt(int64(sp.dur), 10), true
			}
		case "resource":
			v, ok = sp.resource[c.key]
		case "span":
			v, ok = sp.attrs[c.key]
		default:
			if v, ok = sp.attrs[c.key]; !ok {
				v, ok = sp.resource[c.key]
			}
		}
		if !ok || !compare(c, v) {
			return false
		}
	}
	return true
}

func compare(c cond, v string) bool {
	if !c.isNum {
		return (v == c.str) == (c.op == "=")
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return c.op == "!="
	}
	switch c.op {
	case "=":
		return f == c.num
	case "!=":
		return f != c.num
	case ">":
		return f > c.num
	case ">=":
		return f >= c.num
	case "<":
		return f < c.num
	}
	return f <= c.num
}
