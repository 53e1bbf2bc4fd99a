package audit

import (
	"context"
	"slices"
	"sync"
)

// Memory is an in-memory Store, for tests of the capabilities that record
// decisions. It keeps nothing across restarts.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
	states  map[string]State
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{states: map[string]State{}} }

// Append implements Store.
func (m *Memory) Append(_ context.Context, e Entry, c *Change) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var prev *Entry
	if n := len(m.entries); n > 0 {
		prev = &m.entries[n-1]
	}
	e = Seal(prev, e)
	if c != nil {
		next, err := Apply(m.states[e.Subject], m.states[e.Subject].Version > 0, e, *c)
		if err != nil {
			return Entry{}, err
		}
		m.states[e.Subject] = next
	}
	m.entries = append(m.entries, e)
	return e, nil
}

// Apply is the state change rule every store follows: c.From must be the
// current version (0 when the subject does not exist yet); the new state is
// one version up, by the entry's actor at its time.
func Apply(cur State, exists bool, e Entry, c Change) (State, error) {
	switch {
	case c.From == 0 && exists:
		return State{}, &ConflictError{Current: cur}
	case c.From != 0 && !exists:
		return State{}, ErrNotFound
	case c.From != 0 && cur.Version != c.From:
		return State{}, &ConflictError{Current: cur}
	}
	body := c.Body
	if len(body) == 0 && exists {
		body = cur.Body
	}
	return State{Subject: e.Subject, Incident: e.Incident, Status: c.Status, Version: c.From + 1,
		Body: nullable(body), UpdatedAt: e.At, By: e.Actor}, nil
}

// Entries implements Store.
func (m *Memory) Entries(_ context.Context, q Query) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, e := range m.entries {
		if (q.Incident == 0 || e.Incident == q.Incident) && (q.Subject == "" || e.Subject == q.Subject) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Subject implements Store.
func (m *Memory) Subject(_ context.Context, subject string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[subject]
	if !ok {
		return State{}, ErrNotFound
	}
	return st, nil
}

// Subjects implements Store.
func (m *Memory) Subjects(_ context.Context, q SubjectQuery) ([]State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []State
	for _, st := range m.states {
		if (q.Incident == 0 || st.Incident == q.Incident) && (len(q.Statuses) == 0 || slices.Contains(q.Statuses, st.Status)) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b State) int {
		if a.Incident != b.Incident {
			return int(a.Incident - b.Incident)
		}
		return compareStrings(a.Subject, b.Subject)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// tamper hooks for the package's own conformance run.
func (m *Memory) alter(seq int64, comment string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[seq-1].Comment = comment
}

func (m *Memory) remove(seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = slices.Delete(m.entries, int(seq-1), int(seq))
}

func (m *Memory) swap(a, b int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[a-1], m.entries[b-1] = m.entries[b-1], m.entries[a-1]
}
