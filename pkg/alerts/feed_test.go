package alerts

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

func TestAlertsInterval(t *testing.T) {
	cases := map[string]time.Duration{
		``:                      15 * time.Second,
		`null`:                  15 * time.Second,
		`{}`:                    15 * time.Second,
		`not json`:              15 * time.Second,
		`{"intervalMs":"fast"}`: 15 * time.Second,
		`{"intervalMs":5000}`:   5 * time.Second,
		`{"intervalMs":2500.0}`: 2500 * time.Millisecond,
		`{"intervalMs":10}`:     time.Second,
		`{"intervalMs":-1}`:     time.Second,
		`{"intervalMs":3e9}`:    5 * time.Minute,
	}
	for in, want := range cases {
		if got := Interval(json.RawMessage(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestSendGate(t *testing.T) {
	g := sendGate{every: time.Minute}
	t0 := time.Unix(1700000000, 0)
	a, b := []byte(`{"a":1}`), []byte(`{"a":2}`)
	steps := []struct {
		content []byte
		at      time.Duration
		want    bool
	}{
		{a, 0, true},                                 // first frame
		{a, 15 * time.Second, false},                 // unchanged
		{b, 30 * time.Second, true},                  // changed
		{b, 89 * time.Second, false},                 // unchanged, 59 s after the last send
		{b, 90 * time.Second, true},                  // heartbeat
		{a, 91 * time.Second, true},                  // changed back
		{[]byte(`{"a":1}`), 92 * time.Second, false}, // equal content, new slice
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if got := g.due(s.content, now); got != s.want {
			t.Fatalf("step %d: due %v, want %v", i, got, s.want)
		}
		if s.want {
			g.sent(s.content, now)
		}
	}
}

// Run sends the first frame at once and then only changes; Initial hands a
// new subscriber the running stream's current frame.
func TestFeedRunAndInitial(t *testing.T) {
	rows := atomic.Int32{}
	f := &Feed{Read: func(context.Context) *data.Frame {
		list := make([]Alert, rows.Load())
		for i := range list {
			list[i] = Alert{Name: "A", State: "firing", ActiveAt: time.Unix(1700000000, 0)}
		}
		return Frame(list)
	}}
	sent := make(chan int, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, 20*time.Millisecond, func(fr *data.Frame) error {
			n, _ := fr.RowLen()
			sent <- n
			return nil
		})
	}()
	if n := <-sent; n != 0 {
		t.Fatalf("first frame has %d rows", n)
	}
	time.Sleep(100 * time.Millisecond) // several unchanged ticks
	if len(sent) != 0 {
		t.Fatalf("unchanged frames were sent again: %d", len(sent))
	}
	rows.Store(2)
	if n := <-sent; n != 2 {
		t.Fatalf("changed frame has %d rows", n)
	}
	raw := f.Initial(context.Background(), time.Second) // the running stream's frame is fresh
	var fr data.Frame
	if err := json.Unmarshal(raw, &fr); err != nil {
		t.Fatal(err)
	}
	if n, _ := fr.RowLen(); n != 2 {
		t.Errorf("initial frame: %d rows, want the stream's 2", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after its context ended", err)
	}
}
