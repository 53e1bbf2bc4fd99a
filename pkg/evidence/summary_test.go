package evidence

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 10, 30, 10, 0, 0, 0, time.UTC)

// series builds points every step from t0 for n steps with f(i).
func series(n int, step time.Duration, f func(i int) float64) []Point {
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{T: t0.Add(time.Duration(i) * step), V: f(i)}
	}
	return out
}

func win(fromMin, toMin int) Window {
	return Window{From: t0.Add(time.Duration(fromMin) * time.Minute), To: t0.Add(time.Duration(toMin) * time.Minute)}
}

func noise(seed uint64, sd float64) func() float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	return func() float64 { return r.NormFloat64() * sd }
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestSummarize(t *testing.T) {
	const min = time.Minute
	n1 := noise(1, 1)
	n2 := noise(2, 0.002)
	n3 := noise(3, 2)
	cases := []struct {
		name   string
		points []Point
		w      Window
		limit  float64
		check  func(t *testing.T, s Summary)
	}{
		{"no points", nil, win(0, 10), 0, func(t *testing.T, s Summary) {
			if s.Baseline != nil || s.Points != 0 || s.ChangeAt != nil || s.Limit != nil || s.TimeToLimit != nil {
				t.Errorf("%+v", s)
			}
		}},
		{"only baseline", series(10, min, func(int) float64 { return 4 }), win(30, 40), 0, func(t *testing.T, s Summary) {
			if s.Baseline == nil || *s.Baseline != 4 || s.Points != 0 || s.Window != 0 {
				t.Errorf("%+v", s)
			}
		}},
		{"only window, one point", []Point{{t0.Add(5 * min), 7}}, win(0, 10), 0, func(t *testing.T, s Summary) {
			if s.Baseline != nil || s.Points != 1 || s.Window != 7 || s.Last != 7 || s.Min != 7 || s.Max != 7 || s.Trend != 0 || s.ChangeAt != nil {
				t.Errorf("%+v", s)
			}
		}},
		{"two points at one instant: no trend", []Point{{t0, 1}, {t0, 3}}, win(0, 10), 10, func(t *testing.T, s Summary) {
			if s.Trend != 0 || s.TimeToLimit != nil || s.Window != 2 {
				t.Errorf("%+v", s)
			}
		}},
		{"constant", series(60, min, func(int) float64 { return 5 }), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil || s.Trend != 0 || *s.Baseline != 5 || s.Window != 5 || s.Points != 30 {
				t.Errorf("%+v", s)
			}
		}},
		{"all zero", series(60, min, func(int) float64 { return 0 }), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil || s.Trend != 0 || s.Baseline == nil || *s.Baseline != 0 {
				t.Errorf("%+v", s)
			}
		}},
		{"noisy flat: no change", series(120, 30*time.Second, func(int) float64 { return 100 + n1() }), win(30, 60), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil {
				t.Errorf("change at %v in noise: %+v", s.ChangeAt, s)
			}
			if !near(s.Window, 100, 1) || !near(*s.Baseline, 100, 1) {
				t.Errorf("%+v", s)
			}
		}},
		{"step up in the window", series(120, 30*time.Second, func(i int) float64 {
			if i >= 80 {
				return 1250 + n3()
			}
			return 50 + n3()
		}), win(30, 60), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || !s.ChangeAt.Equal(t0.Add(40*min)) {
				t.Fatalf("change %v, want %v", s.ChangeAt, t0.Add(40*min))
			}
			if !near(*s.After, 1250, 5) || !near(*s.Baseline, 50, 2) || !near(s.Max, 1250, 10) {
				t.Errorf("%+v", s)
			}
		}},
		{"step down", series(60, min, func(i int) float64 {
			if i >= 45 {
				return 2
			}
			return 10
		}), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || !s.ChangeAt.Equal(t0.Add(45*min)) || *s.After != 2 {
				t.Errorf("%+v", s)
			}
		}},
		{"step in the baseline", series(60, min, func(i int) float64 {
			if i >= 10 {
				return 0.06
			}
			return 0
		}), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || !s.ChangeAt.Equal(t0.Add(10*min)) {
				t.Errorf("%+v", s)
			}
		}},
		{"error ratio from zero, noisy", series(80, 30*time.Second, func(i int) float64 {
			if i >= 50 {
				return math.Max(0, 0.06+n2())
			}
			return 0
		}), win(20, 40), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || !s.ChangeAt.Equal(t0.Add(25*min)) || !near(*s.After, 0.06, 0.002) {
				t.Errorf("%+v", s)
			}
		}},
		{"small step under the relative threshold", series(60, min, func(i int) float64 {
			if i >= 40 {
				return 110
			}
			return 100
		}), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil {
				t.Errorf("a 10%% step is not a change: %+v", s)
			}
		}},
		{"one spike is not a change", series(60, min, func(i int) float64 {
			if i == 57 {
				return 1000
			}
			return 10 + float64(i%2)
		}), win(30, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil {
				t.Errorf("spike taken for a change: %+v", s)
			}
			if s.Max != 1000 {
				t.Errorf("max %v", s.Max)
			}
		}},
		{"leak: level then ramp, projected to the limit", series(120, min, func(i int) float64 {
			if i < 40 {
				return 50e6
			}
			return 50e6 + float64(i-40)*1e6
		}), win(90, 119), 256e6, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || !near(float64(s.ChangeAt.Sub(t0)/min), 40, 1) {
				t.Errorf("onset %v, want ~40m", s.ChangeAt)
			}
			if !near(s.Trend, 1e6, 1e3) || *s.Limit != 256e6 || s.Last != 129e6 {
				t.Errorf("%+v", s)
			}
			// (256-129) MB at 1 MB/min.
			if s.TimeToLimit == nil || time.Duration(*s.TimeToLimit) != 127*min {
				t.Errorf("ttl %v", s.TimeToLimit)
			}
		}},
		{"steady line throughout: trend, no change point", series(60, min, func(i int) float64 { return 10 + float64(i) }), win(30, 59), 100, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil {
				t.Errorf("a straight line has no change point: %+v", s)
			}
			if s.Trend != 1 || s.TimeToLimit == nil || time.Duration(*s.TimeToLimit) != 31*min {
				t.Errorf("%+v ttl %v", s, s.TimeToLimit)
			}
		}},
		{"falling: no projection", series(60, min, func(i int) float64 { return 100 - float64(i) }), win(30, 59), 200, func(t *testing.T, s Summary) {
			if s.TimeToLimit != nil || s.Trend != -1 {
				t.Errorf("%+v", s)
			}
		}},
		{"at the limit: time to limit 0", series(60, min, func(i int) float64 { return 200 + float64(i) }), win(30, 59), 250, func(t *testing.T, s Summary) {
			if s.TimeToLimit == nil || *s.TimeToLimit != 0 {
				t.Errorf("%+v", s)
			}
		}},
		{"flat with a hair of slope: no projection", series(60, min, func(i int) float64 { return 100e6 + float64(i) }), win(30, 59), 256e6, func(t *testing.T, s Summary) {
			if s.TimeToLimit != nil {
				t.Errorf("ttl %v", *s.TimeToLimit)
			}
		}},
		{"noise with a hair of slope: no projection", series(60, min, func(i int) float64 { return 100 + 0.02*float64(i) + n3() }), win(45, 59), 200, func(t *testing.T, s Summary) {
			if s.TimeToLimit != nil {
				t.Errorf("ttl %v from noise: %+v", *s.TimeToLimit, s)
			}
		}},
		{"projection beyond 24 windows: none", series(16, min, func(i int) float64 { return 10 + float64(i) }), win(0, 15), 1000, func(t *testing.T, s Summary) {
			if s.TimeToLimit != nil {
				t.Errorf("a 15-minute trend projected %v ahead", *s.TimeToLimit)
			}
			if x := Summarize(series(16, min, func(i int) float64 { return 10 + float64(i) }), win(0, 15), 200); x.TimeToLimit == nil || time.Duration(*x.TimeToLimit) != 175*min {
				t.Errorf("within reach: %v", x.TimeToLimit)
			}
		}},
		{"projection beyond a week: none", series(60, min, func(i int) float64 { return 1e6 + float64(i)*1e3 }), win(30, 59), 1e12, func(t *testing.T, s Summary) {
			if s.TimeToLimit != nil || s.Limit == nil {
				t.Errorf("%+v", s)
			}
		}},
		{"no limit: NaN, zero, negative, Inf", series(10, min, func(i int) float64 { return float64(i) }), win(0, 10), math.NaN(), func(t *testing.T, s Summary) {
			for _, l := range []float64{0, -1, math.Inf(1)} {
				if x := Summarize(series(10, min, func(i int) float64 { return float64(i) }), win(0, 10), l); x.Limit != nil || x.TimeToLimit != nil {
					t.Errorf("limit %v: %+v", l, x)
				}
			}
			if s.Limit != nil {
				t.Errorf("%+v", s)
			}
		}},
		{"NaN, Inf and points after the window are ignored; order does not matter", []Point{
			{t0.Add(12 * min), 1000}, {t0.Add(3 * min), 3}, {t0.Add(1 * min), 1}, {t0.Add(2 * min), math.NaN()},
			{t0.Add(4 * min), math.Inf(-1)}, {t0.Add(2 * min), 2},
		}, win(0, 10), 0, func(t *testing.T, s Summary) {
			if s.Points != 3 || s.Max != 3 || s.Last != 3 || s.Window != 2 || s.Trend != 1 {
				t.Errorf("%+v", s)
			}
		}},
		{"rounded to 3 significant digits", series(3, min, func(i int) float64 { return 123456.789 + float64(i) }), win(0, 10), 0, func(t *testing.T, s Summary) {
			if s.Window != 123000 || s.Last != 123000 {
				t.Errorf("%+v", s)
			}
		}},
		{"negative values", series(60, min, func(i int) float64 {
			if i >= 30 {
				return -10
			}
			return -1
		}), win(20, 59), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt == nil || *s.After != -10 || s.Min != -10 {
				t.Errorf("%+v", s)
			}
		}},
		{"too few points for a change", series(5, min, func(i int) float64 {
			if i >= 3 {
				return 100
			}
			return 0
		}), win(0, 10), 0, func(t *testing.T, s Summary) {
			if s.ChangeAt != nil {
				t.Errorf("%+v", s)
			}
		}},
		{"window boundaries inclusive", series(11, min, func(i int) float64 { return float64(i) }), win(5, 10), 0, func(t *testing.T, s Summary) {
			if s.Points != 6 || *s.Baseline != 2 || s.Min != 5 || s.Max != 10 {
				t.Errorf("%+v", s)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, Summarize(c.points, c.w, c.limit)) })
	}
}

func TestSummarizeIsStableUnderNoise(t *testing.T) {
	// Over many noise draws of the same step, the change point stays
	// within two samples of the truth and flat noise never yields one.
	for seed := uint64(0); seed < 200; seed++ {
		nz := noise(seed, 3)
		step := series(90, 20*time.Second, func(i int) float64 {
			if i >= 60 {
				return 200 + nz()
			}
			return 100 + nz()
		})
		s := Summarize(step, win(10, 30), 0)
		if s.ChangeAt == nil || math.Abs(s.ChangeAt.Sub(t0.Add(20*time.Minute)).Seconds()) > 40 {
			t.Fatalf("seed %d: change %v", seed, s.ChangeAt)
		}
		flat := series(90, 20*time.Second, func(int) float64 { return 100 + nz() })
		if s := Summarize(flat, win(10, 30), 0); s.ChangeAt != nil {
			t.Fatalf("seed %d: change in flat noise at %v", seed, s.ChangeAt)
		}
	}
}

func BenchmarkSummarize(b *testing.B) {
	nz := noise(9, 1)
	p := series(240, 15*time.Second, func(i int) float64 { return 100 + float64(i/120)*50 + nz() })
	for b.Loop() {
		Summarize(p, win(30, 60), 300)
	}
}
