package health

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// StorageProbe checks that the database directory exists or can be created
// and is writable.
func StorageProbe(dbPath string) Probe {
	return func(context.Context) (Outcome, error) {
		dir := filepath.Dir(dbPath)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return Outcome{}, fmt.Errorf("cannot create %s: %w", dir, err)
		}
		f, err := os.CreateTemp(dir, ".meshwatch-health-*")
		if err != nil {
			return Outcome{}, fmt.Errorf("cannot write in %s: %w", dir, err)
		}
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
		return Outcome{Note: "directory writable"}, nil
	}
}
