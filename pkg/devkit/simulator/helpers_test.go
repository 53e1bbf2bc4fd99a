package simulator

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// testEnd is the fixed end of every test run (an evening: busy traffic).
var testEnd = time.Date(2026, 11, 1, 21, 0, 0, 0, time.UTC)

const testDuration = 2 * time.Hour

var (
	runsMu sync.Mutex
	runs   = map[string]*Engine{}
)

// run simulates a built-in scenario once per test binary (2h, seed 42,
// 30 s resolution) and shares the engine between tests.
func run(t testing.TB, name string) *Engine {
	t.Helper()
	runsMu.Lock()
	defer runsMu.Unlock()
	if e := runs[name]; e != nil {
		return e
	}
	sc, err := LookupScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Simulate(context.Background(), Options{Scenario: sc, Seed: 42, End: testEnd, Duration: testDuration, Resolution: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runs[name] = e
	return e
}

// parseLabels reads a rendered `a="b",c="d"` label string.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return nil, fmt.Errorf("bad label syntax at %q", s)
		}
		name := s[:eq]
		var v strings.Builder
		i := eq + 2
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				break
			}
			v.WriteByte(c)
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unterminated label value in %q", s)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate label %s", name)
		}
		out[name] = v.String()
		s = s[i+1:]
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		}
	}
	return out, nil
}

// recorded is one recorded series: its labels and (tick, value) samples.
// For histograms, vals has one row per tick: cumulative buckets then sum.
type recorded struct {
	labels map[string]string
	ticks  []int32
	vals   []float64
	width  int
	m      *metric
}

func (r recorded) last() float64 { return r.vals[len(r.vals)-r.width] }

// at returns the value (or bucket row) at sample i.
func (r recorded) row(i int) []float64 { return r.vals[i*r.width : (i+1)*r.width] }

// series lists the recorded series of a family whose labels match all of match.
func series(t testing.TB, e *Engine, family string, match map[string]string) []recorded {
	t.Helper()
	f := e.reg.byName[family]
	if f == nil {
		t.Fatalf("no family %s", family)
	}
	var out []recorded
	for _, m := range f.metrics {
		if len(m.ticks) == 0 {
			continue
		}
		ls, err := parseLabels(m.labels)
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for k, v := range match {
			if strings.HasPrefix(v, "~") {
				if !regexp.MustCompile("^(?:" + v[1:] + ")$").MatchString(ls[k]) {
					ok = false
				}
			} else if ls[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		w := 1
		if f.typ == Histogram {
			w = len(f.bounds) + 2
		}
		out = append(out, recorded{labels: ls, ticks: m.ticks, vals: m.vals, width: w, m: m})
	}
	return out
}

// windowIncrease sums, per tick, the increase of counters over the last
// window samples (a series born during the run starts from 0; resets count
// from 0 like rate() does).
func windowIncrease(e *Engine, rs []recorded, window int) map[int32]float64 {
	first := int32(e.opts.Resolution / e.opts.Step)
	byTick := map[int32]float64{}
	for _, r := range rs {
		for i := range r.ticks {
			var prev float64
			if i >= window {
				prev = r.vals[(i-window)*r.width]
			} else if r.ticks[0] == first {
				continue
			}
			inc := r.vals[i*r.width] - prev
			if inc < 0 {
				inc = r.vals[i*r.width]
			}
			byTick[r.ticks[i]] += inc
		}
	}
	return byTick
}

// maxRatio is the maximum over ticks of sum(increase(num)) / sum(increase(den))
// over window samples, ignoring windows with fewer than minDen requests.
func maxRatio(e *Engine, num, den []recorded, window int, minDen float64) float64 {
	n, d := windowIncrease(e, num, window), windowIncrease(e, den, window)
	best := 0.0
	for tick, dv := range d {
		if dv < minDen {
			continue
		}
		if r := n[tick] / dv; r > best {
			best = r
		}
	}
	return best
}

// maxP99 is the max over ticks of the catalog's latency quantile (P99) of
// summed histogram increases over window samples, ignoring windows with
// fewer requests than the catalog's volume guard asks for.
func maxP99(rs []recorded, window int) float64 {
	if len(rs) == 0 {
		return 0
	}
	latency := signals.Get(signals.WorkloadLatency).Params
	nb := rs[0].width - 1
	byTick := map[int32][]float64{}
	for _, r := range rs {
		for i := window; i < len(r.ticks); i++ {
			cur, prev := r.row(i), r.row(i-window)
			a := byTick[r.ticks[i]]
			if a == nil {
				a = make([]float64, nb)
				byTick[r.ticks[i]] = a
			}
			for k := 0; k < nb; k++ {
				a[k] += cur[k] - prev[k]
			}
		}
	}
	best := 0.0
	for _, cum := range byTick {
		if cum[nb-1] < latency.Guard.MinRequests {
			continue
		}
		counts := make([]uint64, nb)
		var last float64
		for k := 0; k < nb; k++ {
			counts[k] = uint64(cum[k] - last)
			last = cum[k]
		}
		if q := histogramQuantile(latency.Quantile, istioBuckets, counts); q > best {
			best = q
		}
	}
	return best
}

// slopePerHour fits a least-squares line to the series' last half (bytes/h).
func slopePerHour(r recorded, step time.Duration) (slope, intercept float64) {
	n := len(r.ticks)
	from := n / 2
	var sx, sy, sxx, sxy, k float64
	for i := from; i < n; i++ {
		x := float64(r.ticks[i]) * step.Hours()
		y := r.vals[i*r.width]
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
		k++
	}
	slope = (k*sxy - sx*sy) / (k*sxx - sx*sx)
	intercept = (sy - slope*sx) / k
	return slope, intercept
}

// ---- OpenMetrics validation ----

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

type omStats struct {
	families, series, samples int
	types                     map[string]string // family -> type
	les                       map[string]bool   // le label values seen
	firstTS                   map[string]string // family -> first timestamp
}

// validateOpenMetrics checks the text the way a strict OpenMetrics
// consumer would for backfill: descriptors before samples, families and
// series not interleaved, known suffixes per type, valid labels and
// numbers, strictly increasing timestamps per series, counters never
// negative, histogram buckets in le order, cumulative, +Inf == _count,
// and a final # EOF.
func validateOpenMetrics(r io.Reader) (omStats, error) {
	st := omStats{types: map[string]string{}, les: map[string]bool{}, firstTS: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seenFam := map[string]bool{}
	var fam, typ string
	seriesDone := map[string]bool{}
	var curSeries string
	lastTS := map[string]float64{}
	type point struct {
		les       []float64
		vals      []float64
		count     float64
		hasCount  bool
		hasInf    bool
		groupDone bool
	}
	var hp *point
	var hpKey string
	checkHist := func() error {
		if hp == nil {
			return nil
		}
		if !hp.hasInf || !hp.hasCount {
			return fmt.Errorf("histogram point %s lacks +Inf bucket or _count", hpKey)
		}
		for i := 1; i < len(hp.les); i++ {
			if hp.les[i] <= hp.les[i-1] {
				return fmt.Errorf("%s: le not ascending", hpKey)
			}
			if hp.vals[i] < hp.vals[i-1] {
				return fmt.Errorf("%s: buckets not cumulative", hpKey)
			}
		}
		if hp.vals[len(hp.vals)-1] != hp.count {
			return fmt.Errorf("%s: +Inf bucket %g != _count %g", hpKey, hp.vals[len(hp.vals)-1], hp.count)
		}
		hp = nil
		return nil
	}
	type parsed struct {
		le, group, sample string
		hasLE             bool
	}
	parsedCache := map[string]parsed{}
	line := 0
	eof := false
	for sc.Scan() {
		line++
		l := sc.Text()
		if eof {
			return st, fmt.Errorf("line %d: content after # EOF", line)
		}
		if l == "# EOF" {
			eof = true
			continue
		}
		if strings.HasPrefix(l, "#") {
			parts := strings.SplitN(l, " ", 4)
			if len(parts) < 3 {
				return st, fmt.Errorf("line %d: bad descriptor %q", line, l)
			}
			switch parts[1] {
			case "HELP", "UNIT":
			case "TYPE":
				if len(parts) != 4 {
					return st, fmt.Errorf("line %d: bad TYPE", line)
				}
				if err := checkHist(); err != nil {
					return st, err
				}
				if seenFam[parts[2]] {
					return st, fmt.Errorf("line %d: family %s declared twice (interleaved)", line, parts[2])
				}
				fam, typ = parts[2], parts[3]
				seenFam[fam] = true
				st.types[fam] = typ
				st.families++
				switch typ {
				case "counter", "gauge", "histogram", "unknown", "summary", "info", "stateset", "gaugehistogram":
				default:
					return st, fmt.Errorf("line %d: bad type %q", line, typ)
				}
				if !metricNameRE.MatchString(fam) {
					return st, fmt.Errorf("line %d: bad family name %q", line, fam)
				}
			default:
				return st, fmt.Errorf("line %d: unknown descriptor %q", line, parts[1])
			}
			continue
		}
		if fam == "" {
			return st, fmt.Errorf("line %d: sample before any TYPE", line)
		}
		br := strings.IndexByte(l, '{')
		end := strings.LastIndexByte(l, '}')
		if br < 0 || end < br {
			return st, fmt.Errorf("line %d: sample without labels %q", line, l)
		}
		name := l[:br]
		pl, ok := parsedCache[l[:end]]
		if !ok {
			ls, err := parseLabels(l[br+1 : end])
			if err != nil {
				return st, fmt.Errorf("line %d: %v", line, err)
			}
			for k := range ls {
				if !labelNameRE.MatchString(k) {
					return st, fmt.Errorf("line %d: bad label name %q", line, k)
				}
			}
			pl.le, pl.hasLE = ls["le"]
			delete(ls, "le")
			keys := make([]string, 0, len(ls))
			for k := range ls {
				keys = append(keys, k+"="+ls[k])
			}
			sort.Strings(keys)
			pl.group = fam + "{" + strings.Join(keys, ",") + "}"
			pl.sample = name + "{" + strings.Join(keys, ",") + ",le=" + pl.le + "}"
			parsedCache[l[:end]] = pl
		}
		le, hasLE, group, sample := pl.le, pl.hasLE, pl.group, pl.sample
		rest := strings.Fields(l[end+1:])
		if len(rest) != 2 {
			return st, fmt.Errorf("line %d: want value and timestamp, got %q", line, l[end+1:])
		}
		if hasLE {
			st.les[le] = true
		}
		if _, ok := st.firstTS[fam]; !ok {
			st.firstTS[fam] = rest[1]
		}
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			return st, fmt.Errorf("line %d: value: %v", line, err)
		}
		ts, err := strconv.ParseFloat(rest[1], 64)
		if err != nil {
			return st, fmt.Errorf("line %d: timestamp: %v", line, err)
		}
		suffix := strings.TrimPrefix(name, fam)
		if !strings.HasPrefix(name, fam) {
			return st, fmt.Errorf("line %d: sample %s outside family %s", line, name, fam)
		}
		okSuffix := map[string][]string{"counter": {"_total", "_created"}, "gauge": {""}, "unknown": {""},
			"histogram": {"_bucket", "_count", "_sum", "_created"}}[typ]
		found := false
		for _, s := range okSuffix {
			found = found || s == suffix
		}
		if !found {
			return st, fmt.Errorf("line %d: %s is not a valid sample name in %s family %s", line, name, typ, fam)
		}
		if (typ == "counter" || typ == "histogram") && v < 0 {
			return st, fmt.Errorf("line %d: negative %s", line, name)
		}
		if group != curSeries {
			if err := checkHist(); err != nil {
				return st, err
			}
			if seriesDone[group] {
				return st, fmt.Errorf("line %d: series %s interleaved with another", line, group)
			}
			if curSeries != "" {
				seriesDone[curSeries] = true
			}
			curSeries = group
		}
		if p, ok := lastTS[sample]; ok && ts <= p {
			return st, fmt.Errorf("line %d: timestamp %v not after %v for %s", line, ts, p, sample)
		}
		if _, ok := lastTS[sample]; !ok {
			st.series++
		}
		lastTS[sample] = ts
		st.samples++
		if typ == "histogram" {
			pk := group + "@" + rest[1]
			if suffix == "_bucket" {
				if !hasLE {
					return st, fmt.Errorf("line %d: bucket without le", line)
				}
				if hp != nil && hpKey != pk {
					if err := checkHist(); err != nil {
						return st, err
					}
				}
				if hp == nil {
					hp, hpKey = &point{}, pk
				}
				f, err := strconv.ParseFloat(le, 64)
				if err != nil {
					return st, fmt.Errorf("line %d: le %q", line, le)
				}
				hp.les = append(hp.les, f)
				hp.vals = append(hp.vals, v)
				hp.hasInf = hp.hasInf || math.IsInf(f, 1)
			} else if suffix == "_count" {
				if hp == nil || hpKey != pk {
					return st, fmt.Errorf("line %d: _count not after its buckets", line)
				}
				hp.count, hp.hasCount = v, true
			} else if suffix == "_sum" {
				if err := checkHist(); err != nil {
					return st, err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if err := checkHist(); err != nil {
		return st, err
	}
	if !eof {
		return st, fmt.Errorf("missing # EOF")
	}
	return st, nil
}
