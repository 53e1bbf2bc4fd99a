package evidence

import (
	"encoding/json"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// Bounds of log patterns.
const (
	// MaxPattern and MaxExample bound a pattern and its example, in bytes
	// (cut at a rune boundary, "…" appended).
	MaxPattern = 200
	MaxExample = 160
)

// The placeholders NormalizeLogLine writes.
const (
	PhUUID     = "<uuid>"
	PhIP       = "<ip>"
	PhHex      = "<hex>"
	PhDuration = "<dur>"
	PhNumber   = "<n>"
	PhPod      = "<pod>"
	PhTime     = "<ts>"
)

// logREs are the normalization patterns, compiled on first use (not at
// start-up: the plugin process keeps its idle footprint small).
type logREs struct {
	reUUID      *regexp.Regexp
	reTime      *regexp.Regexp
	reIPv4      *regexp.Regexp
	reIPv6      *regexp.Regexp
	reClock     *regexp.Regexp
	rePod       *regexp.Regexp
	reHex0x     *regexp.Regexp
	reHex       *regexp.Regexp
	reDuration  *regexp.Regexp
	reStatusCtx *regexp.Regexp
}

var logRE = sync.OnceValue(func() *logREs {
	return &logREs{
		reUUID: regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`),
		// RFC 3339 / ISO 8601 timestamps, with optional fraction and zone.
		reTime: regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b`),
		// IPv4 with an optional port; IPv6 of at least three groups.
		reIPv4: regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`),
		reIPv6: regexp.MustCompile(`(?i)(?:\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:)+:(?:[0-9a-f]{1,4}:?)*[0-9a-f]*)`),
		// A time of day (10:42:17, 10:42:17.123).
		reClock: regexp.MustCompile(`\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b`),
		// A Deployment's pod name: <workload>-<pod-template-hash>-<suffix>.
		rePod: regexp.MustCompile(`\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-[` + signals.SafeAlphabet + `]{1,10}-[` + signals.SafeAlphabet + `]{5}\b`),
		// 0x-prefixed hex, and hex runs of 8 or more (hashes, trace and span
		// ids, digests); pure-digit runs are left to the number rule.
		reHex0x: regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b`),
		reHex:   regexp.MustCompile(`(?i)\b[0-9a-f]{8,}\b`),
		// Durations: 1.5s, 250ms, 1m30s, 20 µs.
		reDuration: regexp.MustCompile(`\b\d+(?:\.\d+)?(?:h\d+m(?:\d+(?:\.\d+)?s)?|m\d+(?:\.\d+)?s|\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hr|hrs|hours)\b)`),
		// An HTTP status after a word that says so stays: it is the message.
		reStatusCtx: regexp.MustCompile(`(?i)(?:status|code|returned|return|http|response|got)[\s:=_"]*$`),
	}
})

// Keys of a structured (JSON) line that are left out of its pattern: the
// time, the level (the query selects it) and per-request ids.
var droppedKeys = map[string]bool{
	"ts": true, "time": true, "timestamp": true, "@timestamp": true, "t": true,
	"level": true, "lvl": true, "severity": true, "caller": true,
	"trace_id": true, "traceid": true, "traceID": true, "trace-id": true, "span_id": true, "spanid": true, "spanID": true,
	"request_id": true, "requestid": true, "x_request_id": true, "x-request-id": true, "correlation_id": true,
}

// Keys whose numeric value is a status that belongs in the pattern.
var statusKeys = map[string]bool{"status": true, "code": true, "status_code": true, "http.status_code": true,
	"http.response.status_code": true, "response_code": true, "grpc_code": true, "grpc.status_code": true}

// Keys of the message, first found leads the pattern.
var messageKeys = []string{"msg", "message", "error", "err"}

// NormalizeLogLine reduces a log line to its pattern: the same event with
// other ids, numbers and times gives the same pattern.
//
// A JSON object line becomes its message (msg, message, error or err)
// followed by its other fields as key=value in key order, without the time,
// the level and per-request ids (trace_id, span_id, request_id, …); a
// numeric field becomes <n> except HTTP/gRPC status fields. Any other line
// is taken as text. Then, in order: UUIDs → <uuid>, timestamps → <ts>, IPv4
// (with port) and IPv6 addresses → <ip>, times of day → <ts>, Deployment pod names
// (<workload>-<hash>-<suffix>) → <workload>-<pod>, 0x-hex and hex runs of 8
// or more with a digit → <hex>, durations (250ms, 1.5s, 1m30s) → <dur>, and
// the remaining numbers → <n>, except a 3-digit 1xx–5xx right after
// "status", "code", "returned", "HTTP", "response" or "got" (an HTTP status
// is the message, not a variable). Whitespace is collapsed and the result
// cut to MaxPattern bytes.
func NormalizeLogLine(line string) string {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		if s, ok := structured(line); ok {
			line = s
		}
	}
	// Each rule runs only when the line has what it needs (the regexps
	// cost microseconds each, and a capture normalizes hundreds of lines).
	if strings.Count(line, "-") >= 4 {
		line = logRE().reUUID.ReplaceAllString(line, PhUUID)
	}
	colon := strings.Contains(line, ":")
	if colon {
		line = logRE().reTime.ReplaceAllString(line, PhTime)
	}
	if strings.Contains(line, ".") {
		line = logRE().reIPv4.ReplaceAllString(line, PhIP)
	}
	if colon && ipv6Candidate(line) {
		line = logRE().reIPv6.ReplaceAllStringFunc(line, func(m string) string {
			// Four colons or a "::", and a digit: not a word, not a clock.
			if (strings.Count(m, ":") < 4 && !strings.Contains(m, "::")) || !strings.ContainsAny(m, "0123456789") {
				return m
			}
			return PhIP
		})
	}
	if colon {
		line = logRE().reClock.ReplaceAllString(line, PhTime)
	}
	if strings.Contains(line, "-") {
		line = logRE().rePod.ReplaceAllString(line, "${1}-"+PhPod)
	}
	if strings.Contains(line, "0x") || strings.Contains(line, "0X") {
		line = logRE().reHex0x.ReplaceAllString(line, PhHex)
	}
	if hexRun(line) {
		line = logRE().reHex.ReplaceAllStringFunc(line, func(m string) string {
			if strings.Trim(m, "0123456789") == "" || !strings.ContainsAny(m, "0123456789") {
				return m // digits only (a number) or letters only (a word)
			}
			return PhHex
		})
	}
	if strings.ContainsAny(line, "0123456789") {
		line = logRE().reDuration.ReplaceAllString(line, PhDuration)
		line = replaceNumbers(line)
	}
	return cut(strings.Join(strings.Fields(line), " "), MaxPattern)
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// ipv6Candidate: a run of hex digits and colons with two colons or more.
func ipv6Candidate(s string) bool {
	colons, run := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			colons++
			run++
		case isHex(c):
			run++
		default:
			colons, run = 0, 0
		}
		if colons >= 2 && run >= 5 {
			return true
		}
	}
	return false
}

// hexRun: 8 hex digits in a row, at least one a digit.
func hexRun(s string) bool {
	run, digit := 0, false
	for i := 0; i < len(s); i++ {
		if c := s[i]; isHex(c) {
			run++
			digit = digit || c <= '9'
			if run >= 8 && digit {
				return true
			}
		} else {
			run, digit = 0, false
		}
	}
	return false
}

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// replaceNumbers writes <n> for each number not inside a word: digits not
// after a word character or a dot, with any .digits groups and an exponent,
// not followed by a word character (v2, k8s and x2z4q stay). A 3-digit
// 1xx–5xx right after "status", "code", "returned", "HTTP", "response" or
// "got" stays.
func replaceNumbers(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && (isWord(s[i-1]) || s[i-1] == '.')) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		for j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			j++
			for j < len(s) && isDigit(s[j]) {
				j++
			}
		}
		if j+1 < len(s) && (s[j] == 'e' || s[j] == 'E') {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if k < len(s) && isDigit(s[k]) {
				for k < len(s) && isDigit(s[k]) {
					k++
				}
				j = k
			}
		}
		if j < len(s) && isWord(s[j]) {
			for j < len(s) && isWord(s[j]) { // a word that starts with digits
				j++
			}
			i = j
			continue
		}
		if !(isStatus(s[i:j]) && logRE().reStatusCtx.MatchString(s[max(0, i-24):i])) {
			b.WriteString(s[last:i])
			b.WriteString(PhNumber)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isStatus(n string) bool {
	v, err := strconv.Atoi(n)
	return err == nil && len(n) == 3 && v >= 100 && v <= 599
}

// structured renders a JSON object line as "message key=value …".
func structured(line string) (string, bool) {
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return "", false
	}
	var parts []string
	used := map[string]bool{}
	for _, k := range messageKeys {
		if v, ok := obj[k].(string); ok && v != "" {
			parts = append(parts, v)
			used[k] = true
			break
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if !used[k] && !droppedKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v string
		switch x := obj[k].(type) {
		case json.Number:
			if statusKeys[k] {
				v = x.String()
			} else {
				v = PhNumber
			}
		case string:
			v = x
			if strings.ContainsAny(v, " \t") {
				v = strconv.Quote(v)
			}
		case nil:
			v = "null"
		case bool:
			v = strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " "), true
}

// cut truncates s to at most n bytes at a rune boundary, marking the cut
// with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	i := n - len(ell)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ell
}

// LogLine is one log line of the scope, as a source returned it.
type LogLine struct {
	T         time.Time
	Namespace string
	Workload  string
	Container string
	Line      string
	// Weight is how many lines this one stands for (a sample's); 0 is 1.
	Weight float64
}

// Patterns groups lines by namespace, workload, container and normalized
// pattern, and returns the top patterns: most lines first, then the most
// recent, then by id; at most top (all when top ≤ 0). Each has its count
// (the sum of the lines' weights, rounded, at least 1), first and last time
// and its earliest line as the example (cut to MaxExample bytes).
func Patterns(lines []LogLine, top int) []LogPattern {
	byKey := map[string]*LogPattern{}
	weights := map[*LogPattern]float64{}
	for _, l := range lines {
		pat := NormalizeLogLine(l.Line)
		if pat == "" {
			continue
		}
		id := LogID(l.Namespace, l.Workload, l.Container, pat)
		key := id + "\x00" + l.Namespace + "\x00" + l.Workload + "\x00" + l.Container + "\x00" + pat
		p := byKey[key]
		if p == nil {
			p = &LogPattern{ID: id, Namespace: l.Namespace, Workload: l.Workload, Container: l.Container, Pattern: pat,
				First: l.T, Last: l.T, Example: cut(strings.TrimSpace(l.Line), MaxExample)}
			byKey[key] = p
		}
		w := l.Weight
		if w <= 0 {
			w = 1
		}
		weights[p] += w
		if l.T.Before(p.First) {
			p.First, p.Example = l.T, cut(strings.TrimSpace(l.Line), MaxExample)
		}
		if l.T.After(p.Last) {
			p.Last = l.T
		}
	}
	out := make([]LogPattern, 0, len(byKey))
	for _, p := range byKey {
		p.Count = max(1, int(math.Round(weights[p])))
		p.First, p.Last = p.First.UTC().Truncate(time.Second), p.Last.UTC().Truncate(time.Second)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Pattern < b.Pattern
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}
