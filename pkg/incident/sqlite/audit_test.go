package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/audit/audittest"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// tamper runs sql on the file behind the store's back, as someone with the
// file would: first dropping the append-only triggers.
func tamper(t *testing.T, s audit.Store, sql string, args ...any) {
	t.Helper()
	w := s.(*Store).w
	ctx := context.Background()
	for _, q := range []string{`DROP TRIGGER IF EXISTS audit_log_no_update`, `DROP TRIGGER IF EXISTS audit_log_no_delete`} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ExecContext(ctx, sql, args...); err != nil {
		t.Fatalf("tamper %q: %v", sql, err)
	}
}

func TestAuditConformance(t *testing.T) {
	open := func(t *testing.T, path string) *Store {
		s, err := Open(context.Background(), path, storetest.Config)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	audittest.Run(t, audittest.Driver{
		Open: func(t *testing.T) audit.Store { return open(t, filepath.Join(t.TempDir(), "m.db")) },
		Reopen: func(t *testing.T, s audit.Store) audit.Store {
			st := s.(*Store)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, st.Path())
		},
		Tamper: audittest.Tamper{
			Alter: func(t *testing.T, s audit.Store, seq int64, comment string) {
				tamper(t, s, `UPDATE audit_log SET comment = ? WHERE seq = ?`, comment, seq)
			},
			Delete: func(t *testing.T, s audit.Store, seq int64) {
				tamper(t, s, `DELETE FROM audit_log WHERE seq = ?`, seq)
			},
			Swap: func(t *testing.T, s audit.Store, a, b int64) {
				tamper(t, s, `UPDATE audit_log SET seq = -1 WHERE seq = ?`, a)
				tamper(t, s, `UPDATE audit_log SET seq = ? WHERE seq = ?`, a, b)
				tamper(t, s, `UPDATE audit_log SET seq = ? WHERE seq = -1`, b)
			},
		},
	})
}

// The store refuses to rewrite history itself: the triggers stop an update
// or a delete of an entry.
func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"), storetest.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &audit.Log{Store: s}
	if _, err := l.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "1:a:1", Incident: 1}, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET comment = 'x'`, `DELETE FROM audit_log`} {
		if _, err := s.w.ExecContext(ctx, q); err == nil {
			t.Errorf("%s succeeded on the append-only log", q)
		}
	}
}

// BenchmarkAuditRecord is one decision recorded with its state change
// (synchronous=FULL: an fsync each), and Verify over the chain it built.
func BenchmarkAuditRecord(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "m.db"), storetest.Config)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := &audit.Log{Store: s}
	if _, err := l.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "1:1:1", Incident: 1}, &audit.Change{Status: "pending"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Record(ctx, audit.Entry{Actor: audit.Actor{Login: "eddie", Role: "Editor"}, Action: audit.Edit, Subject: "1:1:1", Incident: 1,
			Comment: "benchmark"}, &audit.Change{From: int64(i + 1), Status: "edited"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	es, _ := s.Entries(ctx, audit.Query{})
	t0 := time.Now()
	if v := audit.Verify(es); !v.OK {
		b.Fatal(v.Break)
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/float64(len(es)), "verify-µs/entry")
}
