package incidents

import (
	"context"
	"errors"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Raise takes the alerts another capability raises from what it watches
// (the canaries Flagger failed, say) as source's complete set: each call
// lists everything of source that fires now, so an alert missing from the
// next call resolves. A new incident gets its evidence at once.
func (s *Service) Raise(source string) func(context.Context, []incident.Alert) error {
	return func(ctx context.Context, alerts []incident.Alert) error {
		if s.store == nil {
			return errors.New("the incident store is unavailable")
		}
		got, err := s.store.Ingest(ctx, s.opts.Now(), incident.Batch{Source: source, Alerts: alerts, Complete: true})
		if err != nil {
			return err
		}
		if len(got.Changes) > 0 {
			s.hub.Changed()
		}
		if s.opts.Capture != nil && opened(got.Changes) {
			s.wake()
		}
		return nil
	}
}
