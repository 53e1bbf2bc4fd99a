// Package ha chooses the one active worker among Grafana's replicas. Every
// replica serves reads and takes webhooks (the store makes those exactly
// once), but only the active one polls: it reconciles with Alertmanager,
// captures evidence, regroups and runs the write-ups, so none of that is
// done twice.
//
// With SQLite (one Grafana, one file) the replica is always active. With
// PostgreSQL the active worker holds a session-level advisory lock on a
// connection of its own (Postgres). The lock goes with the connection: a
// replica killed with -9 loses it as soon as PostgreSQL sees the socket
// close, and a replica whose host vanishes loses it when PostgreSQL ends
// its session (idle_session_timeout, the lease time). The others try the
// lock every Every and one of them takes over.
//
// The lease is for efficiency, not for correctness: the store stays exactly
// once whoever writes (unique keys, versions, the audit chain's lock), so
// the short moment in which a holder that lost its connection has not yet
// noticed costs at most a duplicated poll, never a duplicated incident.
package ha

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Lease says whether this replica is the active worker.
type Lease interface {
	// Active reports whether this replica holds the lease now. It never
	// blocks.
	Active() bool
	// Status reads who holds the lease (for the health check).
	Status(ctx context.Context) (Status, error)
	// Close gives the lease up (another replica takes over at once).
	Close() error
}

// Status is what the health check says about the active worker.
type Status struct {
	// Replica is this replica's name; Holder the active one's ("" when
	// none holds the lease, for a moment after the holder died).
	Replica string `json:"replica"`
	Active  bool   `json:"active"`
	Holder  string `json:"holder"`
}

// Describe says st in a sentence for the health report.
func Describe(st Status) string {
	switch {
	case st.Active:
		return "this replica (" + st.Replica + ") is the active worker"
	case st.Holder == "":
		return "no replica holds the lease at this moment (one takes over within seconds); this one (" + st.Replica + ") serves reads and webhooks"
	default:
		return "the active worker is " + st.Holder + "; this replica (" + st.Replica + ") serves reads and webhooks"
	}
}

// Replica is this process's name among the replicas: the host name (the
// pod's name in Kubernetes) and the process id.
func Replica() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "grafana"
	}
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

// Always is the lease of a replica that is the only one (SQLite).
func Always(replica string) Lease { return always(replica) }

type always string

func (a always) Active() bool { return true }
func (a always) Status(context.Context) (Status, error) {
	return Status{Replica: string(a), Active: true, Holder: string(a)}, nil
}
func (a always) Close() error { return nil }

// What one process holds per database: one lease, shared by every app
// instance on it.
var (
	sharedMu sync.Mutex
	shared   = map[string]*sharedLease{}
)

type sharedLease struct {
	lease Lease
	refs  int
}

// Acquire returns the lease for key, made by open on first use, and the
// function that releases this caller's hold (the last release closes it).
func Acquire(key string, open func() (Lease, error)) (Lease, func(), error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sh := shared[key]
	if sh == nil {
		l, err := open()
		if err != nil {
			return nil, func() {}, err
		}
		sh = &sharedLease{lease: l}
		shared[key] = sh
	}
	sh.refs++
	var once sync.Once
	return sh.lease, func() {
		once.Do(func() {
			sharedMu.Lock()
			defer sharedMu.Unlock()
			if sh.refs--; sh.refs == 0 {
				delete(shared, key)
				_ = sh.lease.Close()
			}
		})
	}, nil
}
