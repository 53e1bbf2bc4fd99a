package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of stores and of Record.
var (
	// ErrConflict: the subject's version is not the one the decision was
	// made on (someone else decided first).
	ErrConflict = errors.New("the suggestion was changed by someone else")
	// ErrNotFound: no such subject.
	ErrNotFound = errors.New("not found")
)

// ConflictError carries the state that won, for the loser's 409.
type ConflictError struct{ Current State }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: it is now %s at version %d (by %s)", ErrConflict, e.Current.Status, e.Current.Version, e.Current.By.Login)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// State is a subject's current state, kept beside the chain and changed only
// together with an entry.
type State struct {
	Subject  string `json:"subject"`
	Incident int64  `json:"incident"`
	Status   string `json:"status"`
	// Version counts the changes, from 1 at creation.
	Version int64 `json:"version"`
	// Body is the subject as it stands (a suggestion as proposed or edited).
	Body      json.RawMessage `json:"body" tstype:"unknown"`
	UpdatedAt time.Time       `json:"updatedAt"`
	By        Actor           `json:"by"`
}

// Change moves the entry's subject to a new state in the entry's
// transaction. From is the version the decision was made on; 0 creates the
// subject (ErrConflict when it exists).
type Change struct {
	From   int64
	Status string
	Body   json.RawMessage
}

// Query selects entries; zero fields select everything.
type Query struct {
	Incident int64
	Subject  string
}

// SubjectQuery selects states; zero fields select everything.
type SubjectQuery struct {
	Incident int64
	// Statuses: any of these ("" or empty: all).
	Statuses []string
}

// Store keeps the chain and the subjects' states.
type Store interface {
	// Append seals e at the end of the chain (Seq, Prev, Hash, under the
	// writer lock) and stores it; with c, it also moves e.Subject to c's
	// state, checking c.From, in the same transaction: both or neither.
	// A version mismatch is a *ConflictError.
	Append(ctx context.Context, e Entry, c *Change) (Entry, error)
	// Entries returns the entries q selects in chain order.
	Entries(ctx context.Context, q Query) ([]Entry, error)
	// Subject returns a subject's state, ErrNotFound when there is none.
	Subject(ctx context.Context, subject string) (State, error)
	// Subjects returns the states q selects, by incident then subject.
	Subjects(ctx context.Context, q SubjectQuery) ([]State, error)
}

// Log is the one way decisions are recorded.
type Log struct {
	Store Store
	Now   func() time.Time
}

// Record validates e, stamps its time and appends it (with c, changing its
// subject's state in the same transaction). Every decision of MeshWatch
// (approve, reject, edit, execute, its result, a refusal, a gate) goes
// through here; nothing else writes entries.
func (l *Log) Record(ctx context.Context, e Entry, c *Change) (Entry, error) {
	if err := validate(e); err != nil {
		return Entry{}, err
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	e.At = now().UTC()
	e.Seq, e.Prev, e.Hash = 0, "", ""
	return l.Store.Append(ctx, e, c)
}

func validate(e Entry) error {
	switch {
	case !knownActions[e.Action]:
		return fmt.Errorf("audit: unknown action %q", e.Action)
	case strings.TrimSpace(e.Actor.Login) == "":
		return errors.New("audit: an entry needs the actor's login")
	case strings.TrimSpace(e.Subject) == "":
		return errors.New("audit: an entry needs a subject")
	}
	for name, raw := range map[string]json.RawMessage{"before": e.Before, "after": e.After} {
		if len(bytes.TrimSpace(raw)) > 0 && !json.Valid(raw) {
			return fmt.Errorf("audit: %s is not JSON", name)
		}
	}
	return nil
}
