package health

import (
	"context"
)

// The probes of the external systems live with their clients, in
// pkg/systems/<system> (Client.Probe); these are the ones that belong to no
// system.

// DisabledProbe reports a dependency that the settings switch off.
func DisabledProbe(why string) Probe {
	return func(context.Context) (Outcome, error) { return Outcome{Disabled: true, Note: why}, nil }
}

// FailedProbe reports a dependency whose client could not be built.
func FailedProbe(err error) Probe {
	return func(context.Context) (Outcome, error) { return Outcome{}, err }
}
