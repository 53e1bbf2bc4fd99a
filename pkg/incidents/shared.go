package incidents

import (
	"context"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// What one plugin process holds per database: one open store shared by
// every instance that uses it, and one reconcile loop.
var (
	sharedMu sync.Mutex
	stores   = map[string]*sharedStore{}
	loops    = map[string]*loopSlot{}
)

type sharedStore struct {
	store incident.Store
	refs  int
}

// openTimeout bounds opening a store (migrations included).
const openTimeout = 30 * time.Second

// acquire returns the open store for key, opening it on first use, and the
// function that releases this instance's hold on it (the last release
// closes it).
func acquire(key string, open func(context.Context) (incident.Store, error)) (incident.Store, func(), error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sh := stores[key]
	if sh == nil {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		st, err := open(ctx)
		cancel()
		if err != nil {
			return nil, func() {}, err
		}
		sh = &sharedStore{store: st}
		stores[key] = sh
	}
	sh.refs++
	var once sync.Once
	return sh.store, func() {
		once.Do(func() {
			sharedMu.Lock()
			defer sharedMu.Unlock()
			if sh.refs--; sh.refs == 0 {
				delete(stores, key)
				_ = sh.store.Close()
			}
		})
	}, nil
}

type loopSlot struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// takeOver stops the loop running for key (waiting until it has returned)
// and starts run in its place. The returned stop ends this loop, unless
// another has already taken over from it.
func takeOver(key string, run func(context.Context)) (stop func()) {
	sharedMu.Lock()
	prev := loops[key]
	ctx, cancel := context.WithCancel(context.Background())
	mine := &loopSlot{cancel: cancel, done: make(chan struct{})}
	loops[key] = mine
	sharedMu.Unlock()
	if prev != nil {
		prev.cancel()
		<-prev.done
	}
	go func() {
		defer close(mine.done)
		run(ctx)
	}()
	return func() {
		sharedMu.Lock()
		if loops[key] == mine {
			delete(loops, key)
		}
		sharedMu.Unlock()
		mine.cancel()
		<-mine.done
	}
}
