package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
)

// Source is where the alerts come from: Fetch reads them, or Unavailable
// says why they cannot be read (invalid settings, no client); it must not
// carry credentials.
type Source struct {
	Fetch       func(ctx context.Context) ([]Alert, error)
	Unavailable error
}

// Register wires the alerts capability into reg: the "alerts" Live channel,
// fed by one poll per app instance every interval (zero: DefaultInterval)
// and stopped when the instance is disposed.
func Register(reg *capability.Registry, src Source, interval time.Duration) *Feed {
	feed := &Feed{Interval: interval, Read: func(ctx context.Context) *data.Frame {
		if src.Unavailable != nil {
			return ErrorFrame(src.Unavailable, "")
		}
		list, err := src.Fetch(ctx)
		if err != nil {
			return ErrorFrame(err, "")
		}
		return Frame(list)
	}}
	reg.Stream(StreamPath, stream{feed})
	reg.OnDispose(feed.Close)
	return feed
}

type stream struct{ feed *Feed }

// Subscribe lets any signed-in user join (the data is read-only and the same
// for everyone in the org) and hands them the current frame, so a viewer
// joining a running stream does not wait for the next change. What the
// subscriber sends (such as an interval) is ignored: every subscriber shares
// the instance's one poll.
func (s stream) Subscribe(ctx context.Context, u *access.User, _ json.RawMessage) ([]byte, error) {
	if u == nil {
		return nil, capability.ErrForbidden
	}
	return s.feed.Initial(ctx), nil
}

// Run sends a frame at once, then one every interval when the alerts
// changed, and at least once a minute. An unreachable Prometheus or invalid
// settings become an error notice on an empty frame; the stream keeps
// running and retries on the next tick.
func (s stream) Run(ctx context.Context, _ json.RawMessage, send func(*data.Frame) error) error {
	err := s.feed.Run(ctx, send)
	if errors.Is(err, ErrClosed) {
		return capability.ErrDisposed
	}
	return err
}
