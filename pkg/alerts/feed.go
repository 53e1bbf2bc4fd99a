package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Feed timing. The default interval matches Prometheus' scrape and
// evaluation interval in deploy/.
const (
	DefaultInterval = 15 * time.Second
	MinInterval     = time.Second
	MaxInterval     = 5 * time.Minute
	// DefaultHeartbeat is how often an unchanged frame is sent again, so an
	// open page can tell the stream is alive.
	DefaultHeartbeat = time.Minute
	// subscribeWait bounds the read that builds a new subscriber's initial
	// frame; past it the subscriber waits for the stream.
	subscribeWait = 3 * time.Second
)

// Feed is the live stream of the alerts now: Run reads a frame at once and
// then every interval, and sends it when it changed or a heartbeat is due;
// Initial hands a new subscriber the current frame. A failed read is a frame
// too (Read returns the empty frame with an error notice), so the stream
// keeps going and retries on the next tick.
type Feed struct {
	// Read builds the current frame: Frame of the alerts, or ErrorFrame.
	Read func(ctx context.Context) *data.Frame
	// Heartbeat re-sends an unchanged frame this often (zero: DefaultHeartbeat).
	Heartbeat time.Duration

	mu     sync.Mutex
	last   []byte // the last frame Run built (JSON), for Initial
	lastAt time.Time
}

// Interval reads {"intervalMs": N} (a subscription's data), clamped to
// [MinInterval, MaxInterval]; anything missing or unreadable gives
// DefaultInterval.
func Interval(raw json.RawMessage) time.Duration {
	var opts struct {
		IntervalMs *float64 `json:"intervalMs"`
	}
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &opts) != nil || opts.IntervalMs == nil {
		return DefaultInterval
	}
	ms := *opts.IntervalMs
	switch {
	case ms < float64(MinInterval/time.Millisecond):
		return MinInterval
	case ms > float64(MaxInterval/time.Millisecond):
		return MaxInterval
	}
	return time.Duration(ms) * time.Millisecond
}

// Run feeds send until ctx ends (it then returns nil) or a send fails.
func (f *Feed) Run(ctx context.Context, interval time.Duration, send func(*data.Frame) error) error {
	every := f.Heartbeat
	if every <= 0 {
		every = DefaultHeartbeat
	}
	gate := sendGate{every: every}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		frame := f.Read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		raw, err := data.FrameToJSON(frame, data.IncludeAll)
		if err != nil {
			return fmt.Errorf("encoding the alerts frame: %w", err)
		}
		now := time.Now()
		f.remember(raw, now)
		if gate.due(raw, now) {
			if err := send(frame); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("sending the alerts frame: %w", err)
			}
			gate.sent(raw, now)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Initial is a new subscriber's first frame (JSON): the running stream's
// last frame while it is at most one and a half intervals old, else a read
// bounded by a few seconds; nil when that read did not finish in time.
func (f *Feed) Initial(ctx context.Context, interval time.Duration) []byte {
	if raw := f.cached(interval + interval/2); raw != nil {
		return raw
	}
	wait, cancel := context.WithTimeout(ctx, subscribeWait)
	defer cancel()
	frame := f.Read(wait)
	if wait.Err() != nil {
		return nil
	}
	raw, err := data.FrameToJSON(frame, data.IncludeAll)
	if err != nil {
		return nil
	}
	return raw
}

func (f *Feed) remember(raw []byte, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.lastAt = raw, at
}

func (f *Feed) cached(maxAge time.Duration) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil || time.Since(f.lastAt) > maxAge {
		return nil
	}
	return f.last
}

// sendGate decides whether a frame goes out: when its content differs from
// the last one sent, or when the last send is at least `every` old.
type sendGate struct {
	every  time.Duration
	last   []byte
	sentAt time.Time
}

func (g *sendGate) due(content []byte, now time.Time) bool {
	return g.last == nil || !bytes.Equal(content, g.last) || now.Sub(g.sentAt) >= g.every
}

func (g *sendGate) sent(content []byte, now time.Time) {
	g.last, g.sentAt = content, now
}
