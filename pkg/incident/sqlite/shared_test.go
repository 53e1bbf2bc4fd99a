package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// Two stores on one file (Grafana rebuilding the app instance while the
// old one still writes): the same guarantees as two replicas on PostgreSQL.
func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (incident.Store, incident.Store) {
		path := filepath.Join(t.TempDir(), "meshwatch.db")
		a, err := Open(context.Background(), path, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(context.Background(), path, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}
