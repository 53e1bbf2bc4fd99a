package canaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

// Intent is the state MeshWatch wants one load tester gate of a canary in:
// what the last decision said. The load tester forgets its gates on
// restart; MeshWatch re-applies these.
type Intent struct {
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Gate      loadtester.Gate `json:"gate"`
	Open      bool            `json:"open"`
	// Revision is the canary revision the decision was made on: a promote
	// decision does not carry over to the next revision.
	Revision string    `json:"revision,omitempty"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Comment  string    `json:"comment,omitempty"`
}

func (i Intent) key() string { return string(i.Gate) + "/" + i.Namespace + "/" + i.Name }

// GateStore keeps the intents. Put replaces the intent of the same gate.
type GateStore interface {
	Intents(ctx context.Context) ([]Intent, error)
	Put(ctx context.Context, in Intent) error
}

// Decision is one gate decision, as the audit log records it: a person's
// sign-off, or MeshWatch closing a gate after the promotion or rollback it
// was opened for (By is then nil).
type Decision struct {
	By        *access.User
	Namespace string
	Name      string
	Gate      loadtester.Gate
	Open      bool
	// WasOpen is the intent before the decision.
	WasOpen  bool
	Revision string
	Comment  string
}

// Subject is the decision's audit subject: gate:<gate>/<namespace>/<name>.
func (d Decision) Subject() string {
	return "gate:" + string(d.Gate) + "/" + d.Namespace + "/" + d.Name
}

// Recorder records gate decisions; a decision that cannot be recorded is
// not taken. The audit log's one decision function implements it (the
// plugin wires it); nothing else may write decisions.
type Recorder interface {
	RecordGate(ctx context.Context, d Decision) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, d Decision) error

// RecordGate calls f.
func (f RecorderFunc) RecordGate(ctx context.Context, d Decision) error { return f(ctx, d) }

// MemoryGates is a GateStore in memory (tests; an instance without a
// storage path): intents are lost when the plugin restarts.
type MemoryGates struct {
	mu sync.Mutex
	m  map[string]Intent
}

// Intents returns the intents, ordered by gate, namespace, name.
func (g *MemoryGates) Intents(context.Context) ([]Intent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return sorted(g.m), nil
}

// Put replaces the intent of in's gate.
func (g *MemoryGates) Put(_ context.Context, in Intent) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]Intent{}
	}
	g.m[in.key()] = in
	return nil
}

func sorted(m map[string]Intent) []Intent {
	out := make([]Intent, 0, len(m))
	for _, in := range m {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// FileGates is a GateStore in one JSON file, written whole through a
// temporary file and a rename, so a crash leaves the old or the new state,
// never half of one. It stands in until the incident database has a gate
// table (a migration after the pending ones).
type FileGates struct {
	Path string
	mu   sync.Mutex
}

// Intents reads the file (none yet: no intents).
func (g *FileGates) Intents(context.Context) ([]Intent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := g.read()
	if err != nil {
		return nil, err
	}
	return sorted(m), nil
}

// Put replaces the intent of in's gate and writes the file.
func (g *FileGates) Put(_ context.Context, in Intent) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := g.read()
	if err != nil {
		return err
	}
	m[in.key()] = in
	b, err := json.MarshalIndent(sorted(m), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(g.Path), ".gates-*.json")
	if err != nil {
		return fmt.Errorf("gate state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("gate state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gate state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gate state: %w", err)
	}
	if err := os.Rename(tmp.Name(), g.Path); err != nil {
		return fmt.Errorf("gate state: %w", err)
	}
	return nil
}

func (g *FileGates) read() (map[string]Intent, error) {
	m := map[string]Intent{}
	b, err := os.ReadFile(g.Path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gate state: %w", err)
	}
	var list []Intent
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("gate state %s is not the JSON MeshWatch writes: %w", g.Path, err)
	}
	for _, in := range list {
		m[in.key()] = in
	}
	return m, nil
}
