package stack

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRunEndingAt(t *testing.T) {
	end := time.Unix(10_000, 0)
	step := 30 * time.Second
	pts := func(ts ...float64) [][2]any {
		out := make([][2]any, len(ts))
		for i, v := range ts {
			out[i] = [2]any{v, "1"}
		}
		return out
	}
	cases := []struct {
		name   string
		values [][2]any
		want   int64 // 0: not active at the end
	}{
		{"true throughout", pts(9_880, 9_910, 9_940, 9_970, 10_000), 9_880},
		{"a gap: the run after it counts", pts(9_700, 9_730, 9_910, 9_940, 9_970, 10_000), 9_910},
		{"just began", pts(10_000), 10_000},
		{"ended before the end", pts(9_880, 9_910, 9_940), 0},
		{"never", nil, 0},
	}
	for _, c := range cases {
		got, ok := runEndingAt(c.values, end, step)
		if (c.want == 0) == ok || (ok && got.Unix() != c.want) {
			t.Errorf("%s: %v %v, want %d", c.name, got.Unix(), ok, c.want)
		}
	}
}

func TestWriteForState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "for.om")
	at := time.Unix(1_800_000_000, 0)
	err := writeForState(path, []activeAlert{
		{labels: map[string]string{"alertname": "MeshSidecarMemoryLeak", "workload": "api", "namespace": "shop", "severity": "warning"}, activeAt: at.Add(-4 * time.Hour)},
	}, at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# TYPE ALERTS_FOR_STATE gauge\n" +
		`ALERTS_FOR_STATE{alertname="MeshSidecarMemoryLeak",namespace="shop",severity="warning",workload="api"} 1799985600 1800000000` + "\n# EOF\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}
