// Package audittest is the conformance suite of audit.Store: every driver
// (SQLite today, PostgreSQL later) runs Run against a fresh store, so the
// chain's linearity under concurrent writers, the decisions' optimistic
// concurrency and tamper detection hold whatever the database.
package audittest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
)

// Tamper is how a test alters a driver's stored rows behind its back.
type Tamper struct {
	// Alter changes the stored comment of entry seq (leaving its hash).
	Alter func(t *testing.T, s audit.Store, seq int64, comment string)
	// Delete removes entry seq.
	Delete func(t *testing.T, s audit.Store, seq int64)
	// Swap exchanges the stored positions of entries a and b (each row
	// keeps its content, seq included, but is read back in the other's
	// place).
	Swap func(t *testing.T, s audit.Store, a, b int64)
}

// Driver is what Run needs of one implementation.
type Driver struct {
	// Open returns a new, empty store, closed by the test's cleanup.
	Open func(t *testing.T) audit.Store
	// Reopen closes s and opens the same database again (nil: skipped).
	Reopen func(t *testing.T, s audit.Store) audit.Store
	Tamper Tamper
}

// t0 has nanoseconds: a store that rounds times breaks the hash.
var t0 = time.Date(2026, time.March, 14, 9, 26, 53, 589793238, time.UTC)

func clock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * 1500 * time.Millisecond)
	}
}

var (
	alice = audit.Actor{Login: "alice", Name: "Alice Example", Role: "Editor"}
	bob   = audit.Actor{Login: "bob", Name: "Bob Example", Role: "Admin"}
)

// Run runs the suite.
func Run(t *testing.T, d Driver) {
	t.Run("entries chain in order and round-trip", func(t *testing.T) { testChain(t, d) })
	t.Run("a change is applied with its entry or not at all", func(t *testing.T) { testChange(t, d) })
	t.Run("concurrent decisions: one winner, the others conflict", func(t *testing.T) { testConcurrentDecisions(t, d) })
	t.Run("concurrent appends keep the chain linear", func(t *testing.T) { testConcurrentAppends(t, d) })
	t.Run("subjects by incident and status", func(t *testing.T) { testSubjects(t, d) })
	if d.Tamper.Alter != nil {
		t.Run("tamper: altered entry", func(t *testing.T) { testAltered(t, d) })
	}
	if d.Tamper.Delete != nil {
		t.Run("tamper: deleted entry", func(t *testing.T) { testDeleted(t, d) })
	}
	if d.Tamper.Swap != nil {
		t.Run("tamper: reordered entries", func(t *testing.T) { testReordered(t, d) })
	}
	if d.Reopen != nil {
		t.Run("entries and states survive a reopen", func(t *testing.T) { testReopen(t, d) })
	}
}

func record(t *testing.T, l *audit.Log, e audit.Entry, c *audit.Change) audit.Entry {
	t.Helper()
	out, err := l.Record(context.Background(), e, c)
	if err != nil {
		t.Fatalf("record %s %s: %v", e.Action, e.Subject, err)
	}
	return out
}

func entries(t *testing.T, s audit.Store, q audit.Query) []audit.Entry {
	t.Helper()
	es, err := s.Entries(context.Background(), q)
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	return es
}

// seed writes n entries over two incidents: propose then approve/reject.
func seed(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		record(t, l, audit.Entry{Actor: alice, Action: audit.Approve, Subject: fmt.Sprintf("%d:a:%d", i%2+1, i),
			Incident: int64(i%2 + 1), Before: json.RawMessage(`{"status":"pending"}`), After: json.RawMessage(`{"status": "approved"}`),
			Comment: fmt.Sprintf("decision %d", i)}, nil)
	}
}

func testChain(t *testing.T, d Driver) {
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	first := record(t, l, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "7:an1:root", Incident: 7,
		After: json.RawMessage(`{ "status" : "pending", "text": "payments leaks memory ✓" }`)}, nil)
	second := record(t, l, audit.Entry{Actor: alice, Action: audit.Approve, Subject: "7:an1:root", Incident: 7,
		Before: json.RawMessage(`{"status":"pending"}`), After: json.RawMessage(`{"status":"approved"}`), Comment: "matches the heap graph, \"clearly\"\nline two"}, nil)
	other := record(t, l, audit.Entry{Actor: bob, Action: audit.GateOpen, Subject: "gate:gate/shop/payments"}, nil)

	if first.Seq != 1 || first.Prev != "" || second.Seq != 2 || second.Prev != first.Hash || other.Prev != second.Hash {
		t.Fatalf("chain links: %d %q, %d %q, %d %q", first.Seq, first.Prev, second.Seq, second.Prev, other.Seq, other.Prev)
	}
	if string(first.After) != `{"status":"pending","text":"payments leaks memory ✓"}` {
		t.Errorf("After stored as %s, want compacted JSON", first.After)
	}
	all := entries(t, s, audit.Query{})
	if len(all) != 3 {
		t.Fatalf("%d entries, want 3", len(all))
	}
	got := all[1]
	if !got.At.Equal(second.At) || got.At.Nanosecond() != second.At.Nanosecond() {
		t.Errorf("time read back %v, written %v", got.At, second.At)
	}
	if got.Actor != alice || got.Comment != second.Comment || got.Hash != second.Hash || string(got.Before) != `{"status":"pending"}` {
		t.Errorf("entry read back %+v, written %+v", got, second)
	}
	if v := audit.Verify(all); !v.OK || v.Head != other.Hash || v.Entries != 3 {
		t.Errorf("verify = %+v, want OK with head %s", v, other.Hash)
	}
	if es := entries(t, s, audit.Query{Incident: 7}); len(es) != 2 || es[0].Seq != 1 || es[1].Seq != 2 {
		t.Errorf("incident 7's entries: %+v", es)
	}
	if es := entries(t, s, audit.Query{Subject: "gate:gate/shop/payments"}); len(es) != 1 || es[0].Seq != 3 {
		t.Errorf("gate's entries: %+v", es)
	}
	if _, err := l.Record(context.Background(), audit.Entry{Actor: alice, Action: "delete-everything", Subject: "x"}, nil); err == nil {
		t.Error("an unknown action was recorded")
	}
	if _, err := l.Record(context.Background(), audit.Entry{Action: audit.Approve, Subject: "x"}, nil); err == nil {
		t.Error("an entry without an actor was recorded")
	}
	if n := len(entries(t, s, audit.Query{})); n != 3 {
		t.Errorf("refused entries reached the store: %d entries", n)
	}
}

func testChange(t *testing.T, d Driver) {
	ctx := context.Background()
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	body := json.RawMessage(`{"text":"restart payments"}`)
	record(t, l, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "3:an:1", Incident: 3, After: body},
		&audit.Change{From: 0, Status: "pending", Body: body})
	st, err := s.Subject(ctx, "3:an:1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || st.Status != "pending" || st.Incident != 3 || string(st.Body) != string(body) || st.By != audit.System {
		t.Errorf("created state %+v", st)
	}
	// Creating it again conflicts, and writes no entry.
	_, err = l.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "3:an:1", Incident: 3},
		&audit.Change{From: 0, Status: "pending", Body: body})
	var ce *audit.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, audit.ErrConflict) || ce.Current.Version != 1 {
		t.Fatalf("second create: err = %v, want a *ConflictError at version 1", err)
	}
	// A stale version conflicts.
	record(t, l, audit.Entry{Actor: alice, Action: audit.Approve, Subject: "3:an:1", Incident: 3}, &audit.Change{From: 1, Status: "approved", Body: body})
	_, err = l.Record(ctx, audit.Entry{Actor: bob, Action: audit.Reject, Subject: "3:an:1", Incident: 3}, &audit.Change{From: 1, Status: "rejected", Body: body})
	if !errors.As(err, &ce) || ce.Current.Status != "approved" || ce.Current.By.Login != "alice" {
		t.Fatalf("stale decision: err = %v, want a conflict naming alice's approval", err)
	}
	if _, err := l.Record(ctx, audit.Entry{Actor: bob, Action: audit.Approve, Subject: "9:none:1", Incident: 9}, &audit.Change{From: 1, Status: "approved"}); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("deciding a subject that does not exist: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Subject(ctx, "9:none:1"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Subject of nothing: %v", err)
	}
	st, _ = s.Subject(ctx, "3:an:1")
	if st.Version != 2 || st.Status != "approved" || st.By != alice {
		t.Errorf("state after approval %+v", st)
	}
	all := entries(t, s, audit.Query{})
	if len(all) != 2 || all[1].Action != audit.Approve || !audit.Verify(all).OK {
		t.Errorf("entries after refused changes: %+v", all)
	}
}

func testConcurrentDecisions(t *testing.T, d Driver) {
	ctx := context.Background()
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	record(t, l, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "5:an:2", Incident: 5}, &audit.Change{Status: "pending", Body: json.RawMessage(`{}`)})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			who := audit.Actor{Login: fmt.Sprintf("user%d", i), Role: "Editor"}
			act, status := audit.Approve, "approved"
			if i%2 == 1 {
				act, status = audit.Reject, "rejected"
			}
			_, errs[i] = l.Record(ctx, audit.Entry{Actor: who, Action: act, Subject: "5:an:2", Incident: 5}, &audit.Change{From: 1, Status: status})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, audit.ErrConflict):
			t.Errorf("decider %d: %v, want nil or a conflict", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d deciders won, want exactly 1", won)
	}
	st, _ := s.Subject(ctx, "5:an:2")
	all := entries(t, s, audit.Query{})
	if st.Version != 2 || len(all) != 2 || all[1].Actor.Login != st.By.Login || !audit.Verify(all).OK {
		t.Errorf("after the race: state %+v, %d entries (want 2, the winner's last)", st, len(all))
	}
}

func testConcurrentAppends(t *testing.T, d Driver) {
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Record(context.Background(), audit.Entry{Actor: alice, Action: audit.GateClose,
				Subject: fmt.Sprintf("gate:gate/ns/c%d", i)}, nil); err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	all := entries(t, s, audit.Query{})
	if v := audit.Verify(all); !v.OK || v.Entries != n {
		t.Errorf("after %d concurrent appends: %+v", n, v)
	}
}

func testSubjects(t *testing.T, d Driver) {
	ctx := context.Background()
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	for _, k := range []struct {
		subject string
		inc     int64
	}{{"2:a:root", 2}, {"2:a:1", 2}, {"1:b:1", 1}, {"2:a:2", 2}} {
		record(t, l, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: k.subject, Incident: k.inc}, &audit.Change{Status: "pending"})
	}
	record(t, l, audit.Entry{Actor: alice, Action: audit.Reject, Subject: "2:a:1", Incident: 2}, &audit.Change{From: 1, Status: "rejected"})
	all, err := s.Subjects(ctx, audit.SubjectQuery{})
	if err != nil || len(all) != 4 || all[0].Subject != "1:b:1" {
		t.Fatalf("all subjects: %v %+v", err, all)
	}
	two, _ := s.Subjects(ctx, audit.SubjectQuery{Incident: 2})
	pending, _ := s.Subjects(ctx, audit.SubjectQuery{Statuses: []string{"pending", "edited"}})
	pending2, _ := s.Subjects(ctx, audit.SubjectQuery{Incident: 2, Statuses: []string{"pending"}})
	if len(two) != 3 || len(pending) != 3 || len(pending2) != 2 {
		t.Errorf("incident 2: %d subjects (want 3), pending: %d (want 3), incident 2 pending: %d (want 2)", len(two), len(pending), len(pending2))
	}
}

func tampered(t *testing.T, s audit.Store, wantSeq int64, kind string) {
	t.Helper()
	v := audit.Verify(entries(t, s, audit.Query{}))
	if v.OK || v.Break == nil {
		t.Fatalf("verify passed a tampered chain: %+v", v)
	}
	if v.Break.Seq != wantSeq || v.Break.Kind != kind {
		t.Errorf("break at entry %d (%s: %s), want entry %d (%s)", v.Break.Seq, v.Break.Kind, v.Break.Reason, wantSeq, kind)
	}
}

func testAltered(t *testing.T, d Driver) {
	s := d.Open(t)
	seed(t, &audit.Log{Store: s, Now: clock()}, 5)
	d.Tamper.Alter(t, s, 3, "approved by someone else")
	tampered(t, s, 3, "altered")
}

func testDeleted(t *testing.T, d Driver) {
	s := d.Open(t)
	seed(t, &audit.Log{Store: s, Now: clock()}, 5)
	d.Tamper.Delete(t, s, 2)
	tampered(t, s, 3, "unlinked") // entry 3 no longer follows what is before it
}

func testReordered(t *testing.T, d Driver) {
	s := d.Open(t)
	seed(t, &audit.Log{Store: s, Now: clock()}, 5)
	d.Tamper.Swap(t, s, 2, 4)
	v := audit.Verify(entries(t, s, audit.Query{}))
	if v.OK || v.Break == nil || v.Break.Position != 2 {
		t.Fatalf("verify of a reordered chain: %+v, want a break at position 2", v)
	}
}

func testReopen(t *testing.T, d Driver) {
	s := d.Open(t)
	l := &audit.Log{Store: s, Now: clock()}
	record(t, l, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "4:x:1", Incident: 4}, &audit.Change{Status: "pending"})
	last := record(t, l, audit.Entry{Actor: alice, Action: audit.Approve, Subject: "4:x:1", Incident: 4}, &audit.Change{From: 1, Status: "approved"})
	s = d.Reopen(t, s)
	l = &audit.Log{Store: s, Now: clock()}
	next := record(t, l, audit.Entry{Actor: bob, Action: audit.Execute, Subject: "4:x:1", Incident: 4}, nil)
	if next.Prev != last.Hash || next.Seq != 3 {
		t.Errorf("after reopen the chain continues from seq %d %q, want 3 after %q", next.Seq, next.Prev, last.Hash)
	}
	st, err := s.Subject(context.Background(), "4:x:1")
	if err != nil || st.Status != "approved" || st.Version != 2 {
		t.Errorf("state after reopen: %+v %v", st, err)
	}
}
