// Package audit is MeshWatch's record of human decisions: who approved,
// rejected, edited or executed an AI suggestion, and who opened or closed a
// canary gate. Every decision is written through one function,
// (*Log).Record, which appends one Entry to a hash chain: each entry's hash
// is sha256 over the previous entry's hash and the entry's canonical JSON,
// so altering, deleting or reordering a stored row breaks the chain at that
// entry, and Verify names it.
//
// Decisions also move a subject (a suggestion) from one versioned state to
// the next, in the same transaction as the entry (Change): two people
// deciding the same subject at once get one winner and one ErrConflict,
// never a silent overwrite, and no state changes without its entry.
//
// The storage is behind Store (pkg/incident/sqlite implements it in the
// incident database; pkg/audit/audittest is the conformance suite every
// implementation runs). A store appends under its writer lock so the chain
// stays linear.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Action is what an entry records.
type Action string

// The actions MeshWatch records.
const (
	// Propose: MeshWatch put a suggestion up for review (actor: the system).
	Propose Action = "propose"
	Approve Action = "approve"
	Reject  Action = "reject"
	Edit    Action = "edit"
	// Execute: a person started an approved step's action; ExecuteResult
	// is its outcome and the Kubernetes (or load tester) answer.
	Execute       Action = "execute"
	ExecuteResult Action = "execute-result"
	// Refuse: an execution refused before any call (not approved, not on the
	// allowlist, out of bounds).
	Refuse Action = "refuse"
	// GateOpen and GateClose: a Flagger load-tester gate (confirm or
	// rollback) opened or closed by a person.
	GateOpen  Action = "gate-open"
	GateClose Action = "gate-close"
)

var knownActions = map[Action]bool{Propose: true, Approve: true, Reject: true, Edit: true, Execute: true,
	ExecuteResult: true, Refuse: true, GateOpen: true, GateClose: true}

// Actor is who made a decision, as Grafana named the caller.
type Actor struct {
	Login string `json:"login"`
	Name  string `json:"name,omitempty"`
	Role  string `json:"role,omitempty"`
}

// System is the actor of entries MeshWatch writes itself (proposals).
var System = Actor{Login: "meshwatch", Name: "MeshWatch", Role: "system"}

// Entry is one link of the chain.
type Entry struct {
	// Seq is the entry's position, from 1, without gaps.
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Actor Actor     `json:"actor"`
	// Action is what happened; Subject what it happened to (a suggestion's
	// key, or "gate:<kind>/<namespace>/<name>"); Incident the incident it
	// belongs to (0: none).
	Action   Action `json:"action"`
	Subject  string `json:"subject"`
	Incident int64  `json:"incident,omitempty"`
	// Before and After are the subject's state around the decision, as JSON
	// (null when there is none).
	Before  json.RawMessage `json:"before,omitempty" tstype:"unknown"`
	After   json.RawMessage `json:"after,omitempty" tstype:"unknown"`
	Comment string          `json:"comment,omitempty"`
	// Prev is the previous entry's hash ("" for the first); Hash this
	// entry's: hex sha256 over Prev and the entry's canonical form.
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// canonical is what the hash covers: every field but Hash, in a fixed
// order, times in UTC with nanoseconds, JSON compacted.
type canonical struct {
	Prev     string          `json:"prev"`
	Seq      int64           `json:"seq"`
	At       string          `json:"at"`
	Login    string          `json:"login"`
	Name     string          `json:"name"`
	Role     string          `json:"role"`
	Action   Action          `json:"action"`
	Subject  string          `json:"subject"`
	Incident int64           `json:"incident"`
	Before   json.RawMessage `json:"before"`
	After    json.RawMessage `json:"after"`
	Comment  string          `json:"comment"`
}

// HashOf is the hash an entry must carry: sha256 over its previous hash and
// its canonical JSON. Stores call it (through Seal) under their writer lock.
func HashOf(e Entry) string {
	c := canonical{Prev: e.Prev, Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano),
		Login: e.Actor.Login, Name: e.Actor.Name, Role: e.Actor.Role, Action: e.Action,
		Subject: e.Subject, Incident: e.Incident, Before: compact(e.Before), After: compact(e.After), Comment: e.Comment}
	b, err := json.Marshal(c)
	if err != nil { // compact() leaves only valid JSON
		panic(err)
	}
	h := sha256.New()
	h.Write([]byte(e.Prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// compact is raw without insignificant whitespace; "null" for empty or
// invalid JSON (Record refuses invalid JSON before it reaches a store).
func compact(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return json.RawMessage("null")
	}
	return b.Bytes()
}

// Seal makes e the entry after prev (nil: the first entry): its Seq, Prev
// and Hash. JSON fields are stored compacted, as hashed.
func Seal(prev *Entry, e Entry) Entry {
	e.Seq, e.Prev = 1, ""
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.At = e.At.UTC()
	e.Before, e.After = nullable(e.Before), nullable(e.After)
	e.Hash = HashOf(e)
	return e
}

func nullable(raw json.RawMessage) json.RawMessage {
	c := compact(raw)
	if string(c) == "null" {
		return nil
	}
	return c
}
