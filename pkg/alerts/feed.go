package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Feed timing. The default interval matches Prometheus' scrape and
// evaluation interval in deploy/.
const (
	DefaultInterval = 15 * time.Second
	// DefaultHeartbeat is how often an unchanged frame is sent again, so an
	// open page can tell the stream is alive.
	DefaultHeartbeat = time.Minute
	// subscribeWait bounds the read that builds a new subscriber's initial
	// frame; past it the subscriber waits for the stream.
	subscribeWait = 3 * time.Second
)

// ErrClosed ends Run when the feed is closed (its app instance is disposed).
var ErrClosed = errors.New("the alerts feed is closed")

// Feed is the live stream of the alerts now, shared by every subscriber of
// one app instance: one poller reads a frame at once and then every
// Interval, for as long as at least one Run is active, whatever each
// subscriber asks for. Each Run sends a frame when it changed or a heartbeat
// is due; Initial hands a new subscriber the current frame. A failed read is
// a frame too (Read returns the empty frame with an error notice), so the
// stream keeps going and retries on the next tick. Close stops the poller
// and ends every Run with ErrClosed.
type Feed struct {
	// Read builds the current frame: Frame of the alerts, or ErrorFrame.
	Read func(ctx context.Context) *data.Frame
	// Interval between reads (zero: DefaultInterval).
	Interval time.Duration
	// Heartbeat re-sends an unchanged frame this often (zero: DefaultHeartbeat).
	Heartbeat time.Duration

	mu     sync.Mutex
	last   *snapshot // the poller's latest frame, for Initial and new Runs
	subs   map[chan *snapshot]struct{}
	poller *poller // the running poller, nil when no one subscribes
	closed bool
	done   chan struct{} // closed by Close
}

// poller is one run of the polling loop; stopped closes when it has ended.
type poller struct {
	cancel  context.CancelFunc
	stopped chan struct{}
}

func (p *poller) stop() {
	if p != nil {
		p.cancel()
		<-p.stopped
	}
}

type snapshot struct {
	frame *data.Frame
	raw   []byte
	at    time.Time
}

func (f *Feed) init() {
	if f.done == nil {
		f.done = make(chan struct{})
		f.subs = map[chan *snapshot]struct{}{}
	}
}

func (f *Feed) interval() time.Duration {
	if f.Interval > 0 {
		return f.Interval
	}
	return DefaultInterval
}

// Run feeds send until ctx ends (it then returns nil), the feed is closed
// (ErrClosed) or a send fails.
func (f *Feed) Run(ctx context.Context, send func(*data.Frame) error) error {
	ch, err := f.join()
	if err != nil {
		return err
	}
	defer f.leave(ch)
	every := f.Heartbeat
	if every <= 0 {
		every = DefaultHeartbeat
	}
	gate := sendGate{every: every}
	f.mu.Lock()
	done := f.done
	f.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return ErrClosed
		case s := <-ch:
			now := time.Now()
			if !gate.due(s.raw, now) {
				continue
			}
			if err := send(s.frame); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("sending the alerts frame: %w", err)
			}
			gate.sent(s.raw, now)
		}
	}
}

// join adds a subscriber, starting the poller for the first one.
func (f *Feed) join() (chan *snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if f.closed {
		return nil, ErrClosed
	}
	ch := make(chan *snapshot, 1)
	f.subs[ch] = struct{}{}
	if f.poller == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.poller = &poller{cancel: cancel, stopped: make(chan struct{})}
		go f.poll(ctx, f.poller.stopped)
	} else if f.last != nil {
		ch <- f.last // a joining subscriber starts from the current frame
	}
	return ch, nil
}

// leave removes a subscriber and stops the poller after the last one.
func (f *Feed) leave(ch chan *snapshot) {
	f.mu.Lock()
	delete(f.subs, ch)
	var p *poller
	if len(f.subs) == 0 {
		p, f.poller = f.poller, nil
	}
	f.mu.Unlock()
	p.stop()
}

func (f *Feed) poll(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)
	ticker := time.NewTicker(f.interval())
	defer ticker.Stop()
	for {
		frame := f.Read(ctx)
		if ctx.Err() != nil {
			return
		}
		raw, err := data.FrameToJSON(frame, data.IncludeAll)
		if err == nil {
			f.publish(&snapshot{frame: frame, raw: raw, at: time.Now()})
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// publish hands s to every subscriber, replacing one it has not taken yet.
func (f *Feed) publish(s *snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = s
	for ch := range f.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// Initial is a new subscriber's first frame (JSON): the poller's last frame
// while it is at most one and a half intervals old, else a read bounded by a
// few seconds; nil when that read did not finish in time or the feed is
// closed.
func (f *Feed) Initial(ctx context.Context) []byte {
	iv := f.interval()
	f.mu.Lock()
	f.init()
	last, closed, done := f.last, f.closed, f.done
	f.mu.Unlock()
	if closed {
		return nil
	}
	if last != nil && time.Since(last.at) <= iv+iv/2 {
		return last.raw
	}
	wait, cancel := context.WithTimeout(ctx, subscribeWait)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-wait.Done():
		}
	}()
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

// Close stops the poller and ends every Run with ErrClosed; it waits for the
// poller to stop. Safe to call more than once.
func (f *Feed) Close() {
	f.mu.Lock()
	f.init()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	p := f.poller
	f.poller = nil
	f.mu.Unlock()
	// The poller stops first, so that once a Run has ended with ErrClosed
	// no read of this feed is still in flight.
	p.stop()
	close(f.done)
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
