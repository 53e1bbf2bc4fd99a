package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

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
	f := &Feed{Interval: 20 * time.Millisecond, Read: func(context.Context) *data.Frame {
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
		done <- f.Run(ctx, func(fr *data.Frame) error {
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
	raw := f.Initial(context.Background()) // the running stream's frame is fresh
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

// Every subscriber shares one poll: three Runs read Prometheus as often as
// one, whatever each asked for, and the poll stops with the last of them.
func TestFeedSharesOnePoll(t *testing.T) {
	var reads atomic.Int32
	f := &Feed{Interval: 50 * time.Millisecond, Read: func(context.Context) *data.Frame {
		reads.Add(1)
		return Frame(nil)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	got := make([]atomic.Int32, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.Run(ctx, func(*data.Frame) error { got[i].Add(1); return nil })
		}()
	}
	time.Sleep(520 * time.Millisecond)
	n := reads.Load()
	// About 11 reads in 520 ms at 50 ms; three separate polls would make ~33.
	if n < 5 || n > 16 {
		t.Fatalf("%d reads in 520 ms at a 50 ms interval with 3 subscribers: want one shared poll (about 11)", n)
	}
	for i := range got {
		if got[i].Load() != 1 {
			t.Errorf("subscriber %d got %d frames of an unchanged feed, want 1", i, got[i].Load())
		}
	}
	cancel()
	wg.Wait()
	after := reads.Load()
	time.Sleep(200 * time.Millisecond)
	if reads.Load() != after {
		t.Errorf("the poll went on after the last subscriber left (%d → %d reads)", after, reads.Load())
	}
}

// Close ends every Run with ErrClosed, stops the poll and leaves no
// goroutine behind; a Run on a closed feed ends at once.
func TestFeedClose(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &Feed{Interval: 10 * time.Millisecond, Read: func(ctx context.Context) *data.Frame {
		<-ctx.Done() // a slow Prometheus: Close must not wait for it
		return Frame(nil)
	}}
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() { errs <- f.Run(context.Background(), func(*data.Frame) error { return nil }) }()
	}
	time.Sleep(50 * time.Millisecond)
	f.Close()
	for i := 0; i < 5; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Run after Close returned %v, want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not end within 2 s of Close")
		}
	}
	if err := f.Run(context.Background(), func(*data.Frame) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Run on a closed feed: %v", err)
	}
	if raw := f.Initial(context.Background()); raw != nil {
		t.Errorf("Initial on a closed feed: %s", raw)
	}
	f.Close() // twice is fine
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}
