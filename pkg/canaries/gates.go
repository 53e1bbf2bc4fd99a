package canaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

// Intent is the state MeshWatch wants one load tester gate of a canary in:
// what the last decision on it said. The load tester forgets its gates on
// restart; MeshWatch re-applies these.
type Intent struct {
	Namespace string
	Name      string
	Gate      loadtester.Gate
	Open      bool
	// Revision is the canary revision the decision was made on: a promote
	// decision does not carry over to the next revision.
	Revision string
	By       string
	At       time.Time
	Comment  string
}

func (i Intent) key() string { return Subject(i.Gate, i.Namespace, i.Name) }

// Subject is a gate's audit subject, gate:<gate>/<namespace>/<name>, the
// one the sign-off capability's gate route uses too: both keep one gate
// state.
func Subject(g loadtester.Gate, namespace, name string) string {
	return "gate:" + string(g) + "/" + namespace + "/" + name
}

// Decision is one gate decision: a person's sign-off, or MeshWatch closing
// a gate after the promotion or rollback it was opened for (By nil).
type Decision struct {
	By        *access.User
	Namespace string
	Name      string
	Gate      loadtester.Gate
	Open      bool
	Revision  string
	Comment   string
}

// Gates records gate decisions and keeps the intents they set, both or
// neither: no decision is taken unrecorded.
type Gates interface {
	Intents(ctx context.Context) ([]Intent, error)
	Decide(ctx context.Context, d Decision) error
}

// AuditGates keeps the gates in the audit trail: each decision is an entry
// (gate-open or gate-close) written through audit.Log.Record, the one
// function every decision goes through, and the intent is the gate
// subject's state ("open" or "closed"), changed in the entry's
// transaction.
type AuditGates struct {
	// Log returns the audit log (opened on first use); an error refuses
	// the decision.
	Log func(ctx context.Context) (*audit.Log, error)
}

// gateBody is a gate subject's body: the sign-off capability's gate action
// with the revision decided on.
type gateBody struct {
	actions.Action
	Revision string `json:"revision,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Decide records d and moves its gate subject to open or closed.
func (g AuditGates) Decide(ctx context.Context, d Decision) error {
	log, err := g.Log(ctx)
	if err != nil {
		return err
	}
	subject := Subject(d.Gate, d.Namespace, d.Name)
	cur, err := log.Store.Subject(ctx, subject)
	exists := err == nil
	if err != nil && !errors.Is(err, audit.ErrNotFound) {
		return err
	}
	state, act, op := "closed", audit.GateClose, actions.OpClose
	if d.Open {
		state, act, op = "open", audit.GateOpen, actions.OpOpen
	}
	var before json.RawMessage
	if exists {
		before, _ = json.Marshal(map[string]any{"state": cur.Status, "version": cur.Version})
	}
	after, _ := json.Marshal(map[string]any{"state": state, "version": cur.Version + 1, "revision": d.Revision})
	body, _ := json.Marshal(gateBody{Action: actions.Action{Kind: actions.Gate, Namespace: d.Namespace, Name: d.Name, Gate: string(d.Gate), Op: op},
		Revision: d.Revision, Comment: d.Comment})
	actor := audit.System
	if d.By != nil {
		actor = audit.Actor{Login: d.By.Login, Name: d.By.Name, Role: string(d.By.Role)}
	}
	_, err = log.Record(ctx, audit.Entry{Actor: actor, Action: act, Subject: subject, Before: before, After: after, Comment: d.Comment},
		&audit.Change{From: cur.Version, Status: state, Body: body})
	return err
}

// Intents reads the gate subjects' states.
func (g AuditGates) Intents(ctx context.Context) ([]Intent, error) {
	log, err := g.Log(ctx)
	if err != nil {
		return nil, err
	}
	sts, err := log.Store.Subjects(ctx, audit.SubjectQuery{})
	if err != nil {
		return nil, err
	}
	var out []Intent
	for _, st := range sts {
		in, ok := intentOf(st)
		if ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// intentOf reads a gate subject's state; ok is false for other subjects.
func intentOf(st audit.State) (Intent, bool) {
	rest, ok := strings.CutPrefix(st.Subject, "gate:")
	if !ok {
		return Intent{}, false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || (parts[0] != string(loadtester.Confirm) && parts[0] != string(loadtester.Rollback)) {
		return Intent{}, false
	}
	var b gateBody
	_ = json.Unmarshal(st.Body, &b) // a body MeshWatch did not write leaves these empty
	return Intent{Gate: loadtester.Gate(parts[0]), Namespace: parts[1], Name: parts[2], Open: st.Status == "open",
		Revision: b.Revision, Comment: b.Comment, By: st.By.Login, At: st.UpdatedAt}, true
}

// MemoryGates is Gates over an in-memory audit log (tests; an instance
// without storage, whose intents are lost on restart).
func MemoryGates() AuditGates {
	log := &audit.Log{Store: audit.NewMemory()}
	return AuditGates{Log: func(context.Context) (*audit.Log, error) { return log, nil }}
}

// describe is the history line of an intent.
func describe(in Intent) string {
	what := "Promotion gate"
	if in.Gate == loadtester.Rollback {
		what = "Rollback gate"
	}
	state := "closed"
	if in.Open {
		state = "opened"
	}
	msg := fmt.Sprintf("%s %s by %s", what, state, in.By)
	if in.Comment != "" {
		msg += ": " + in.Comment
	}
	return msg
}
