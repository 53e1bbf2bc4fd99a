package evidence

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

// Tunables of Summarize.
const (
	// MinSegment is the fewest points on each side of a change point.
	MinSegment = 3
	// MinRelativeChange is the smallest shift (or ramp) worth calling a
	// change, relative to the larger of the levels before and after it: a
	// rate() wanders by a few percent from sample to sample.
	MinRelativeChange = 0.2
	// NoiseMultiple: a shift must also be this many times the noise.
	NoiseMultiple = 3.0
	// MaxProjection bounds TimeToLimit: a limit further away than this is
	// not a projection anyone acts on.
	MaxProjection = 7 * 24 * time.Hour
	// ProjectionReach: a trend is not projected further ahead than this
	// many times the span it was fitted on (a 15-minute wobble says
	// nothing about next week).
	ProjectionReach = 24
	// MinProjectedRise: a trend projects a time to the limit only when it
	// moved the series by at least this share of its last value over the
	// window (a flat series with a hair of slope does not).
	MinProjectedRise = 0.02
)

// Summarize compacts a series to its Summary against the window: points
// before w.From are the baseline, points in [w.From, w.To] the window, later
// ones are ignored, as are NaN and infinite values. limit is the limit the
// series runs against (a container's memory or CPU limit); 0, a negative
// value or NaN means none.
//
//   - Baseline, Window: the means before and inside the window.
//   - Last, Min, Max: over the window.
//   - Trend: least-squares slope over the window, per minute.
//   - ChangeAt/After: the change point over baseline and window together.
//     Three models are fitted by least squares: one straight line (no
//     change); a step (two means split at k); and a level followed by a
//     ramp (a mean, then a free line from k: a leak's onset). The model
//     with the lowest Bayesian information criterion wins, with the noise
//     variance estimated robustly from the successive differences (their
//     median absolute deviation, which a trend or a single step does not
//     inflate). A step or ramp becomes a change point only when its size
//     is at least MinRelativeChange of the level and NoiseMultiple times
//     the noise. The split is searched in O(n) with prefix sums.
//   - TimeToLimit: (Limit − Last) / Trend when the window's trend rises
//     towards the limit (it moved the series by MinProjectedRise of its
//     last value or more, and by NoiseMultiple times the noise) and the
//     projection is within MaxProjection and ProjectionReach times the
//     window's span; 0 when Last is at or over the limit already.
//
// Numbers are rounded to 3 significant digits, times to the second.
func Summarize(points []Point, w Window, limit float64) Summary {
	pts := make([]Point, 0, len(points))
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.T.After(w.To) {
			continue
		}
		pts = append(pts, p)
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].T.Before(pts[j].T) })

	var s Summary
	if limit > 0 && !math.IsInf(limit, 0) {
		s.Limit = ptr(round3(limit))
	}
	first := sort.Search(len(pts), func(i int) bool { return !pts[i].T.Before(w.From) })
	base, win := pts[:first], pts[first:]
	if len(base) > 0 {
		s.Baseline = ptr(round3(mean(base)))
	}
	s.Points = len(win)
	if len(win) == 0 {
		return s
	}
	lo, hi := win[0].V, win[0].V
	for _, p := range win {
		lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
	}
	last := win[len(win)-1].V
	s.Window, s.Last, s.Min, s.Max = round3(mean(win)), round3(last), round3(lo), round3(hi)

	slope, ok := slopePerMinute(win)
	if ok {
		s.Trend = round3(slope)
	}
	if at, after, ok := changePoint(pts); ok {
		t := at.UTC().Truncate(time.Second)
		s.ChangeAt, s.After = &t, ptr(round3(after))
	}
	if limit > 0 && !math.IsInf(limit, 0) && ok {
		switch span := win[len(win)-1].T.Sub(win[0].T).Minutes(); {
		case last >= limit:
			s.TimeToLimit = D(0)
		case slope > 0 && slope*span >= MinProjectedRise*math.Abs(last) && slope*span >= NoiseMultiple*noiseSD(win):
			if mins := (limit - last) / slope; mins > 0 && mins <= min(MaxProjection.Minutes(), ProjectionReach*span) {
				s.TimeToLimit = D(time.Duration(mins * float64(time.Minute)).Round(time.Minute))
			}
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func mean(p []Point) float64 {
	var sum float64
	for _, x := range p {
		sum += x.V
	}
	return sum / float64(len(p))
}

// slopePerMinute is the least-squares slope of p, per minute; ok is false
// with fewer than two distinct times.
func slopePerMinute(p []Point) (float64, bool) {
	if len(p) < 2 {
		return 0, false
	}
	t0 := p[0].T
	var st, sy, stt, sty float64
	n := float64(len(p))
	for _, x := range p {
		t := x.T.Sub(t0).Minutes()
		st += t
		sy += x.V
		stt += t * t
		sty += t * x.V
	}
	den := stt - st*st/n
	if den <= 1e-12 {
		return 0, false
	}
	return (sty - st*sy/n) / den, true
}

// sums are prefix sums of a series (t in minutes from the first point, y
// centred on the mean) for O(1) segment fits.
type sums struct{ n, t, y, tt, yy, ty []float64 }

func prefixSums(p []Point) (sums, float64) {
	m := mean(p)
	k := len(p) + 1
	s := sums{make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)}
	for i, x := range p {
		t := x.T.Sub(p[0].T).Minutes()
		y := x.V - m
		s.n[i+1] = s.n[i] + 1
		s.t[i+1] = s.t[i] + t
		s.y[i+1] = s.y[i] + y
		s.tt[i+1] = s.tt[i] + t*t
		s.yy[i+1] = s.yy[i] + y*y
		s.ty[i+1] = s.ty[i] + t*y
	}
	return s, m
}

// seg returns the sums of points [i, j).
func (s sums) seg(i, j int) (n, t, y, tt, yy, ty float64) {
	return s.n[j] - s.n[i], s.t[j] - s.t[i], s.y[j] - s.y[i], s.tt[j] - s.tt[i], s.yy[j] - s.yy[i], s.ty[j] - s.ty[i]
}

// sseConst is the squared error of a segment around its mean, and the mean
// (centred).
func (s sums) sseConst(i, j int) (sse, mu float64) {
	n, _, y, _, yy, _ := s.seg(i, j)
	if n == 0 {
		return 0, 0
	}
	return math.Max(0, yy-y*y/n), y / n
}

// sseLine is the squared error of a segment around its least-squares line,
// and the line's slope (per minute).
func (s sums) sseLine(i, j int) (sse, slope float64) {
	n, t, y, tt, yy, ty := s.seg(i, j)
	if n == 0 {
		return 0, 0
	}
	sxx := tt - t*t/n
	syy := math.Max(0, yy-y*y/n)
	if sxx <= 1e-12 {
		return syy, 0
	}
	sxy := ty - t*y/n
	return math.Max(0, syy-sxy*sxy/sxx), sxy / sxx
}

// noiseSD estimates the noise's standard deviation from successive
// differences: 1.4826 × their median absolute deviation / √2.
func noiseSD(p []Point) float64 {
	if len(p) < 3 {
		return 0
	}
	d := make([]float64, len(p)-1)
	for i := 1; i < len(p); i++ {
		d[i-1] = p[i].V - p[i-1].V
	}
	med := median(d)
	for i := range d {
		d[i] = math.Abs(d[i] - med)
	}
	return 1.4826 * median(d) / math.Sqrt2
}

func medianOf(p []Point) float64 {
	v := make([]float64, len(p))
	for i, x := range p {
		v[i] = x.V
	}
	return median(v)
}

func median(x []float64) float64 {
	c := append([]float64(nil), x...)
	sort.Float64s(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// changePoint finds the change point of p (sorted by time): see Summarize.
func changePoint(p []Point) (at time.Time, after float64, ok bool) {
	n := len(p)
	if n < 2*MinSegment {
		return time.Time{}, 0, false
	}
	s, m := prefixSums(p)
	sd := noiseSD(p)
	scale := 0.0
	for _, x := range p {
		scale = math.Max(scale, math.Abs(x.V))
	}
	// A floor on the variance keeps a noise-free series (a simulator's, a
	// constant) from dividing by zero; the effect-size rules then decide.
	v := math.Max(sd*sd, math.Pow(1e-9*math.Max(scale, 1e-300), 2))
	bic := func(sse float64, params int) float64 { return sse/v + float64(params)*math.Log(float64(n)) }

	sse0, _ := s.sseLine(0, n)
	best, bestCost, bestModel := -1, bic(sse0, 2), 0
	for k := MinSegment; k <= n-MinSegment; k++ {
		a, _ := s.sseConst(0, k)
		b, _ := s.sseConst(k, n)
		if c := bic(a+b, 3); c < bestCost {
			best, bestCost, bestModel = k, c, 1
		}
		l, _ := s.sseLine(k, n)
		if c := bic(a+l, 4); c < bestCost {
			best, bestCost, bestModel = k, c, 2
		}
	}
	if best < 0 {
		return time.Time{}, 0, false
	}
	_, before := s.sseConst(0, best)
	_, afterMean := s.sseConst(best, n)
	before, afterMean = before+m, afterMean+m
	size := math.Abs(afterMean - before)
	level := math.Max(math.Abs(before), math.Abs(afterMean))
	if bestModel == 2 {
		// A ramp's size is how far its line ends from the level before it
		// (a step with a slight slope after it fits as a ramp too).
		_, slope := s.sseLine(best, n)
		cnt, st, _, _, _, _ := s.seg(best, n)
		end := afterMean + slope*(p[n-1].T.Sub(p[0].T).Minutes()-st/cnt)
		size = math.Abs(end - before)
		level = math.Max(math.Abs(before), math.Abs(end))
	}
	if size < MinRelativeChange*level || size < NoiseMultiple*sd || size == 0 {
		return time.Time{}, 0, false
	}
	// The means can be pulled by a spike or two; the medians cannot. The
	// shift must hold between the medians too: of the two segments for a
	// step, of the segment before and the ramp's last third for a ramp.
	tail := p[best:]
	if bestModel == 2 {
		tail = p[n-max(MinSegment, (n-best)/3):]
	}
	if ms := math.Abs(medianOf(tail) - medianOf(p[:best])); ms < MinRelativeChange*level || ms < NoiseMultiple*sd {
		return time.Time{}, 0, false
	}
	return p[best].T, afterMean, true
}

// round3 rounds to 3 significant digits (0 stays 0).
func round3(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	return v
}
