package analysis

import (
	"context"
	"fmt"
	"sync"
)

// Queue runs one analysis at a time per model, first come first served: a
// small Ollama host answers one request at a time anyway, and a second
// model would evict the first. Each waiting analysis can see its position.
// The zero value is not usable: NewQueue.
type Queue struct {
	mu sync.Mutex
	// notifying keeps callbacks in the order of the changes: taken before
	// mu is released, released after the callbacks ran.
	notifying sync.Mutex
	lanes     map[string][]*waiter
	onChange  func(model string, ids []string)
}

type waiter struct {
	id    string
	turn  chan struct{}
	onPos func(int)
	last  int
}

// NewQueue returns an empty queue. onChange (may be nil) is called, with
// the queue's lock released, each time a model's line changes, with the ids
// in order (the first is running).
func NewQueue(onChange func(model string, ids []string)) *Queue {
	return &Queue{lanes: map[string][]*waiter{}, onChange: onChange}
}

// Do waits for id's turn on model, then runs fn. onPosition (may be nil)
// is called with the number of analyses ahead of id whenever it changes,
// first when id joins (0: it runs now). Canceling ctx while waiting leaves
// the line and returns ctx's error; fn gets ctx. An id already in model's
// line is an error (the incident's analysis is already queued).
func (q *Queue) Do(ctx context.Context, model, id string, onPosition func(int), fn func(context.Context) error) error {
	w := &waiter{id: id, turn: make(chan struct{}), onPos: onPosition, last: -1}
	q.mu.Lock()
	for _, x := range q.lanes[model] {
		if x.id == id {
			q.mu.Unlock()
			return fmt.Errorf("analysis %s is already queued for %s", id, model)
		}
	}
	q.lanes[model] = append(q.lanes[model], w)
	if len(q.lanes[model]) == 1 {
		close(w.turn)
	}
	notify := q.changedLocked(model)
	q.mu.Unlock()
	notify()

	select {
	case <-w.turn:
	case <-ctx.Done():
		q.leave(model, w)
		return ctx.Err()
	}
	defer q.leave(model, w)
	return fn(ctx)
}

// Position is the number of analyses ahead of id on model (0: running);
// ok is false when id is not in the line.
func (q *Queue) Position(model, id string) (pos int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.lanes[model] {
		if w.id == id {
			return i, true
		}
	}
	return 0, false
}

// Len is how many analyses are in model's line, the running one included.
func (q *Queue) Len(model string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.lanes[model])
}

func (q *Queue) leave(model string, w *waiter) {
	q.mu.Lock()
	lane := q.lanes[model]
	for i, x := range lane {
		if x == w {
			lane = append(lane[:i:i], lane[i+1:]...)
			if i == 0 && len(lane) > 0 {
				close(lane[0].turn)
			}
			break
		}
	}
	if len(lane) == 0 {
		delete(q.lanes, model)
	} else {
		q.lanes[model] = lane
	}
	notify := q.changedLocked(model)
	q.mu.Unlock()
	notify()
}

// changedLocked collects the callbacks to make after a change (called with
// the lock held; the returned func runs without it, and must run). The
// callbacks may call Position and Len, not Do.
func (q *Queue) changedLocked(model string) func() {
	lane := q.lanes[model]
	ids := make([]string, len(lane))
	type call struct {
		f   func(int)
		pos int
	}
	var calls []call
	for i, w := range lane {
		ids[i] = w.id
		if w.last != i && w.onPos != nil {
			calls = append(calls, call{w.onPos, i})
		}
		w.last = i
	}
	on := q.onChange
	q.notifying.Lock()
	return func() {
		defer q.notifying.Unlock()
		for _, c := range calls {
			c.f(c.pos)
		}
		if on != nil {
			on(model, ids)
		}
	}
}
