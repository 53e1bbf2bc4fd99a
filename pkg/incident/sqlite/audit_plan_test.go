package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// An incident's trail is read through its index, not by scanning the whole
// chain (which grows with every decision ever made).
func TestAuditTrailUsesItsIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "m.db"), storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	query, args := entriesQuery(audit.Query{Incident: 7})
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "audit_log_incident") {
		t.Errorf("query plan %q does not use audit_log_incident", p)
	}
}
