package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// RunShared runs the cases of two stores on one database: two Grafana
// replicas' plugins on one PostgreSQL, or two handles on one SQLite file.
// open returns two stores opened with Config on one new, empty database;
// the suite closes them.
func RunShared(t *testing.T, open func(t *testing.T) (incident.Store, incident.Store)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b incident.Store)
	}{
		{"SameAlertsThroughBothAtOnce", testSharedDedupe},
		{"AuditChainStaysLinearAndDecisionsConflict", testSharedAudit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, a, b)
		})
	}
}

// The same deliveries reach both stores at once, again and again (an
// Alertmanager behind a load balancer, retrying): every delivery is
// acknowledged, and each group key is one incident holding each alert once.
func testSharedDedupe(t *testing.T, a, b incident.Store) {
	var alerts []incident.Alert
	for w := 0; w < 5; w++ {
		for p := 0; p < 4; p++ {
			alerts = append(alerts, crashLooping(t, at(time.Duration(w)*time.Second), "shop", fmt.Sprintf("web-%d-7d9f8b6c5d-%d", w, p)))
		}
	}
	batch := incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Ingest(ctx, at(time.Minute+time.Duration(i)*time.Millisecond), batch); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a delivery was refused: %v", err)
	}
	for name, s := range map[string]incident.Store{"a": a, "b": b} {
		l := list(t, s, incident.Filter{})
		if len(l) != 5 {
			t.Fatalf("store %s lists %d incidents, want 5 (one per workload): %v", name, len(l), ids(l))
		}
		for _, inc := range l {
			_, recs := get(t, s, inc.ID)
			if len(recs) != 4 || inc.Alerts != 4 || inc.Firing != 4 {
				t.Errorf("store %s: incident %s holds %d records (alerts %d, firing %d), want 4", name, inc.Key, len(recs), inc.Alerts, inc.Firing)
			}
		}
	}
}

// Decisions through both stores at once: the chain stays one linear chain
// that verifies, and of two decisions made on the same version one wins
// and the other is a conflict naming the winner.
func testSharedAudit(t *testing.T, a, b incident.Store) {
	la, aok := a.(audit.Store)
	lb, bok := b.(audit.Store)
	if !aok || !bok {
		t.Skip("the store keeps no audit trail")
	}
	logs := []*audit.Log{{Store: la}, {Store: lb}}
	const subjects = 10
	for i := 1; i <= subjects; i++ {
		if _, err := logs[i%2].Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: fmt.Sprintf("%d:1:root", i), Incident: int64(i)},
			&audit.Change{Status: "pending"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := map[string]int{}, map[string]int{}
	for i := 1; i <= subjects; i++ {
		for who, l := range logs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subject := fmt.Sprintf("%d:1:root", i)
				_, err := l.Record(ctx, audit.Entry{Actor: audit.Actor{Login: fmt.Sprintf("editor-%d", who), Role: "Editor"}, Action: audit.Approve,
					Subject: subject, Incident: int64(i)}, &audit.Change{From: 1, Status: "approved"})
				var ce *audit.ConflictError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins[subject]++
				case errors.As(err, &ce) && ce.Current.Version == 2:
					conflicts[subject]++
				default:
					t.Errorf("%s: %v", subject, err)
				}
			}()
		}
	}
	wg.Wait()
	for i := 1; i <= subjects; i++ {
		s := fmt.Sprintf("%d:1:root", i)
		if wins[s] != 1 || conflicts[s] != 1 {
			t.Errorf("%s: %d won, %d conflicted; want one of each", s, wins[s], conflicts[s])
		}
	}
	for name, st := range map[string]audit.Store{"a": la, "b": lb} {
		es, err := st.Entries(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if v := audit.Verify(es); !v.OK || v.Entries != 2*subjects {
			t.Fatalf("store %s: the chain %+v, want %d entries that verify", name, v, 2*subjects)
		}
	}
}
