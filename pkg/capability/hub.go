package capability

import (
	"context"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Hub tells a capability's running Live streams that what they show
// changed: Wait returns a channel that closes on the next Changed (or on
// Close, when the instance goes away; closed then reports true). The zero
// value is ready to use.
type Hub struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

// Wait returns the channel the next change closes, and whether the hub is
// closed.
func (h *Hub) Wait() (<-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	return h.ch, h.closed
}

// Changed wakes every waiter.
func (h *Hub) Changed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch != nil && !h.closed {
		close(h.ch)
		h.ch = nil
	}
}

// Close wakes every waiter for the last time: Wait reports closed from now.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Feed runs a Live stream off a hub: it sends frame() at once, again after
// every change (waiting coalesce first, so that changes closer than that
// go out as one frame), and at least every heartbeat, until ctx ends (it
// returns nil) or the hub closes (ErrDisposed: Grafana re-establishes the
// stream on the instance that replaced this one).
func Feed(ctx context.Context, h *Hub, heartbeat, coalesce time.Duration, frame func() *data.Frame, send func(*data.Frame) error) error {
	for {
		changed, closed := h.Wait()
		if closed {
			return ErrDisposed
		}
		if err := send(frame()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			if coalesce > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(coalesce):
				}
			}
		case <-time.After(heartbeat):
		}
	}
}
