package simulator

import (
	"bufio"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// MetricType is the type of a metric family.
type MetricType uint8

// Metric family types.
const (
	Counter MetricType = iota
	Gauge
	Histogram
)

func (t MetricType) String() string {
	switch t {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	}
	return "histogram"
}

// Label is one name/value pair.
type Label struct{ Name, Value string }

// family is one metric family: a name, its type and its series.
type family struct {
	name    string
	help    string
	typ     MetricType
	bounds  []float64 // histogram upper bounds, without +Inf
	leText  []string  // canonical le label values, with +Inf
	metrics []*metric
}

// metric is one series (or, for a histogram, one bucket set with _sum and _count).
type metric struct {
	fam    *family
	labels string // rendered `a="b",c="d"`, no braces
	pod    *pod   // scraped while this pod exists; nil = always
	hidden bool   // not exposed right now (e.g. a waiting reason that ended)

	val     float64
	buckets []uint64 // non-cumulative, len(bounds)+1
	sum     float64
	count   uint64

	// backfill recording: ticks and values (width 1, or len(bounds)+2 for
	// histograms: cumulative buckets then sum).
	ticks []int32
	vals  []float64
}

func (m *metric) exposed() bool { return !m.hidden && (m.pod == nil || m.pod.alive) }

func (m *metric) add(v float64) { m.val += v }
func (m *metric) set(v float64) { m.val = v }

func (m *metric) observe(v float64) {
	b := m.fam.bounds
	i := sort.SearchFloat64s(b, v) // first bound >= v: le is inclusive
	m.buckets[i]++
	m.sum += v
	m.count++
}

// reset zeroes a counter or histogram (a process restart).
func (m *metric) reset() {
	m.val, m.sum, m.count = 0, 0, 0
	for i := range m.buckets {
		m.buckets[i] = 0
	}
}

// registry holds every family in exposition order.
type registry struct {
	families []*family
	byName   map[string]*family
}

func newRegistry() *registry { return &registry{byName: map[string]*family{}} }

func (r *registry) family(name, help string, typ MetricType, bounds ...float64) *family {
	if f, ok := r.byName[name]; ok {
		return f
	}
	f := &family{name: name, help: help, typ: typ, bounds: bounds}
	if typ == Histogram {
		for _, b := range bounds {
			f.leText = append(f.leText, formatOMFloat(b))
		}
		f.leText = append(f.leText, "+Inf")
	}
	r.families = append(r.families, f)
	r.byName[name] = f
	return f
}

// metric registers a new series of f with labels (in the given order).
func (f *family) metric(p *pod, labels ...Label) *metric {
	m := &metric{fam: f, labels: renderLabels(labels), pod: p}
	if f.typ == Histogram {
		m.buckets = make([]uint64, len(f.bounds)+1)
	}
	f.metrics = append(f.metrics, m)
	return m
}

func renderLabels(ls []Label) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.Value))
		b.WriteByte('"')
	}
	return b.String()
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

// formatOMFloat renders a float the canonical OpenMetrics way (what
// Prometheus 3 normalises le label values to): shortest 'g' form, with ".0"
// added to integers.
func formatOMFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, "e.") {
		s += ".0"
	}
	return s
}

func appendValue(b []byte, v float64) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return append(b, formatOMFloat(v)...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// record appends the exposed series' current values at tick t.
func (r *registry) record(t int32) {
	for _, f := range r.families {
		for _, m := range f.metrics {
			if !m.exposed() {
				continue
			}
			m.ticks = append(m.ticks, t)
			if f.typ != Histogram {
				m.vals = append(m.vals, m.val)
				continue
			}
			var cum uint64
			for _, c := range m.buckets {
				cum += c
				m.vals = append(m.vals, float64(cum))
			}
			m.vals = append(m.vals, m.sum)
		}
	}
}

// SeriesCount counts the series (histogram buckets, _sum and _count each
// count once) that were ever exposed.
func (r *registry) seriesCount() (series, samples int) {
	for _, f := range r.families {
		for _, m := range f.metrics {
			if len(m.ticks) == 0 {
				continue
			}
			w := 1
			if f.typ == Histogram {
				w = len(f.bounds) + 3
			}
			series += w
			samples += w * len(m.ticks)
		}
	}
	return series, samples
}

// omName is the OpenMetrics family name and type of f: counters lose their
// _total suffix; counters without one (Istio's pilot_xds_pushes) are typed
// unknown so the sample name stays what Prometheus stores.
func (f *family) omNameType() (string, string) {
	switch f.typ {
	case Counter:
		if strings.HasSuffix(f.name, "_total") {
			return strings.TrimSuffix(f.name, "_total"), "counter"
		}
		return f.name, "unknown"
	case Gauge:
		return f.name, "gauge"
	}
	return f.name, "histogram"
}

// writeOpenMetrics writes every recorded sample as OpenMetrics text with
// timestamps in seconds (tick i is at startUnix + i*stepSeconds), grouped
// family by family, series by series, in time order, ending with # EOF.
func (r *registry) writeOpenMetrics(w io.Writer, startUnix, stepSeconds int64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 0, 1024)
	for _, f := range r.families {
		any := false
		for _, m := range f.metrics {
			if len(m.ticks) > 0 {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		name, typ := f.omNameType()
		bw.WriteString("# HELP " + name + " " + escapeHelp(f.help) + "\n")
		bw.WriteString("# TYPE " + name + " " + typ + "\n")
		for _, m := range f.metrics {
			if len(m.ticks) == 0 {
				continue
			}
			if f.typ != Histogram {
				prefix := f.name + "{" + m.labels + "} "
				for i, t := range m.ticks {
					buf = append(buf[:0], prefix...)
					buf = appendValue(buf, m.vals[i])
					buf = append(buf, ' ')
					buf = strconv.AppendInt(buf, startUnix+int64(t)*stepSeconds, 10)
					buf = append(buf, '\n')
					bw.Write(buf)
				}
				continue
			}
			width := len(f.bounds) + 2
			sep := ","
			if m.labels == "" {
				sep = ""
			}
			bucketPrefix := make([]string, len(f.leText))
			for j, le := range f.leText {
				bucketPrefix[j] = f.name + "_bucket{" + m.labels + sep + `le="` + le + `"} `
			}
			countPrefix := f.name + "_count{" + m.labels + "} "
			sumPrefix := f.name + "_sum{" + m.labels + "} "
			for i, t := range m.ticks {
				ts := strconv.AppendInt(nil, startUnix+int64(t)*stepSeconds, 10)
				row := m.vals[i*width : (i+1)*width]
				for j, p := range bucketPrefix {
					buf = append(buf[:0], p...)
					buf = appendValue(buf, row[j])
					buf = append(buf, ' ')
					buf = append(buf, ts...)
					buf = append(buf, '\n')
					bw.Write(buf)
				}
				buf = append(buf[:0], countPrefix...)
				buf = appendValue(buf, row[width-2])
				buf = append(buf, ' ')
				buf = append(buf, ts...)
				buf = append(buf, '\n')
				buf = append(buf, sumPrefix...)
				buf = appendValue(buf, row[width-1])
				buf = append(buf, ' ')
				buf = append(buf, ts...)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// writeText writes the current values in the Prometheus text exposition
// format 0.0.4 (what a scrape of /metrics returns), without timestamps.
func (r *registry) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	buf := make([]byte, 0, 1024)
	for _, f := range r.families {
		first := true
		for _, m := range f.metrics {
			if !m.exposed() {
				continue
			}
			if first {
				bw.WriteString("# HELP " + f.name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(f.help) + "\n")
				bw.WriteString("# TYPE " + f.name + " " + f.typ.String() + "\n")
				first = false
			}
			if f.typ != Histogram {
				buf = append(buf[:0], f.name...)
				buf = append(buf, '{')
				buf = append(buf, m.labels...)
				buf = append(buf, "} "...)
				buf = appendValue(buf, m.val)
				buf = append(buf, '\n')
				bw.Write(buf)
				continue
			}
			sep := ","
			if m.labels == "" {
				sep = ""
			}
			var cum uint64
			for j, le := range f.leText {
				cum += m.buckets[j]
				buf = append(buf[:0], f.name...)
				buf = append(buf, "_bucket{"...)
				buf = append(buf, m.labels...)
				buf = append(buf, sep...)
				buf = append(buf, `le="`...)
				buf = append(buf, le...)
				buf = append(buf, `"} `...)
				buf = strconv.AppendUint(buf, cum, 10)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
			buf = append(buf[:0], f.name...)
			buf = append(buf, "_sum{"...)
			buf = append(buf, m.labels...)
			buf = append(buf, "} "...)
			buf = appendValue(buf, m.sum)
			buf = append(buf, '\n')
			buf = append(buf, f.name...)
			buf = append(buf, "_count{"...)
			buf = append(buf, m.labels...)
			buf = append(buf, "} "...)
			buf = strconv.AppendUint(buf, m.count, 10)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	return bw.Flush()
}
