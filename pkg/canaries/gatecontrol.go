package canaries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

// Errors of Decide, for the route's status codes.
var (
	// ErrNoSuchCanary: the canary is not (or no longer) watched.
	ErrNoSuchCanary = errors.New("no such canary")
	// ErrNotGated: the canary has no load tester gate for the decision, or
	// its phase leaves nothing to decide.
	ErrNotGated = errors.New("nothing to decide")
	// ErrUnrecorded: the decision could not be recorded, so it was not taken.
	ErrUnrecorded = errors.New("the decision could not be recorded")
)

// phasesFor are the phases in which a decision has an effect: Flagger asks
// confirm gates in Waiting (confirm-rollout), Progressing and
// WaitingPromotion (confirm-promotion), and the rollback gate in
// Progressing, Waiting and WaitingPromotion.
var phasesFor = map[string][]string{
	DecisionPromote:  {PhaseWaiting, PhaseProgressing, PhaseWaitingPromotion},
	DecisionRollback: {PhaseWaiting, PhaseProgressing, PhaseWaitingPromotion},
}

// Decide takes a sign-off on a canary: it records the decision (no
// decision is taken unrecorded), keeps the intent, and opens the load
// tester's gate. applied is false when the load tester could not be told
// (the gate loop re-applies the intent when it answers).
func (s *Service) Decide(ctx context.Context, u *access.User, namespace, name, decision, comment string) (c Canary, applied bool, err error) {
	gate := loadtester.Confirm
	if decision == DecisionRollback {
		gate = loadtester.Rollback
	}
	c, ok := s.Canary(ctx, namespace, name)
	if !ok {
		return Canary{}, false, fmt.Errorf("%w: %s/%s is not among the canaries MeshWatch watches", ErrNoSuchCanary, namespace, name)
	}
	base := baseFor(c, gate)
	if base == "" {
		hook := "confirm-promotion (or confirm-rollout)"
		if gate == loadtester.Rollback {
			hook = "rollback"
		}
		return c, false, fmt.Errorf("%w: %s/%s has no %s webhook to a Flagger load tester's %s/check, so there is no gate to open", ErrNotGated, namespace, name, hook, gate)
	}
	if !slices.Contains(phasesFor[decision], c.Phase) {
		return c, false, fmt.Errorf("%w: %s/%s is %s; a %s decision acts only while it is Waiting, Progressing or WaitingPromotion", ErrNotGated, namespace, name, phaseName(c.Phase), decision)
	}
	d := Decision{By: u, Namespace: namespace, Name: name, Gate: gate, Open: true, Revision: c.Revision, Comment: comment}
	if err := s.o.Gates.Decide(ctx, d); err != nil {
		return c, false, fmt.Errorf("%w: %v", ErrUnrecorded, err)
	}
	in := Intent{Namespace: namespace, Name: name, Gate: gate, Open: true}
	applied = s.apply(ctx, base, in) == nil
	s.hub.Changed()
	c, _ = s.Canary(ctx, namespace, name)
	return c, applied, nil
}

func phaseName(p string) string {
	if p == "" {
		return "not yet initialised by Flagger"
	}
	return p
}

// baseFor is the load tester of the canary's gate g ("" when none).
func baseFor(c Canary, g loadtester.Gate) string {
	for _, gt := range c.Gates {
		if gateOf(gt.Type) != g || !gt.LoadTester {
			continue
		}
		if base, ok := LoadTesterBase(gt.URL, gt.Type); ok {
			return base
		}
	}
	return ""
}

// loadTester is the (cached) client of the load tester at base.
func (s *Service) loadTester(base string) (*loadtester.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt, ok := s.lts[base]; ok {
		return lt, nil
	}
	lt, err := loadtester.New(base)
	if err != nil {
		return nil, err
	}
	if s.lts == nil {
		s.lts = map[string]*loadtester.Client{}
	}
	s.lts[base] = lt
	return lt, nil
}

// apply makes the load tester's gate what in says.
func (s *Service) apply(ctx context.Context, base string, in Intent) error {
	lt, err := s.loadTester(base)
	if err != nil {
		return err
	}
	if in.Open {
		return lt.Open(ctx, in.Gate, in.Name, in.Namespace)
	}
	return lt.Shut(ctx, in.Gate, in.Name, in.Namespace)
}

// gateLoop reconciles the gates at once, then every GateEvery.
func (s *Service) gateLoop(ctx context.Context) {
	every := s.o.GateEvery
	if every <= 0 {
		every = 15 * time.Second
	}
	for {
		if s.Synced() && (s.o.Active == nil || s.o.Active()) {
			s.ReconcileGates(ctx)
			s.raiseFailed(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// ReconcileGates brings every load tester gate of the watched canaries to
// the state MeshWatch wants: an open intent is closed (and the closing
// recorded) once its canary finished (Succeeded or Failed) or moved to a
// new revision, so the next revision waits for its own decision; then each
// gate the load tester holds otherwise (it restarted and forgot, or
// someone opened it without a sign-off) is set again. No intent means
// closed: no decision, no promotion. It returns how many gates it changed
// on load testers.
func (s *Service) ReconcileGates(ctx context.Context) int {
	intents, err := s.intents(ctx)
	if err != nil {
		s.setGateErr(err)
		return 0
	}
	byKey := map[string]Intent{}
	for _, in := range intents {
		byKey[in.key()] = in
	}
	changed := 0
	var errs []error
	for _, c := range s.Snapshot(ctx) {
		for _, g := range []loadtester.Gate{loadtester.Confirm, loadtester.Rollback} {
			base := baseFor(c, g)
			if base == "" {
				continue
			}
			in, ok := byKey[Intent{Namespace: c.Namespace, Name: c.Name, Gate: g}.key()]
			if !ok {
				in = Intent{Namespace: c.Namespace, Name: c.Name, Gate: g}
			}
			if in.Open && spent(c, in) {
				d := Decision{Namespace: c.Namespace, Name: c.Name, Gate: g, Open: false, Revision: c.Revision,
					Comment: fmt.Sprintf("closed after the canary %s (the decision was on revision %s)", spentWhy(c, in), orNone(in.Revision))}
				if err := s.o.Gates.Decide(ctx, d); err != nil {
					errs = append(errs, err)
					continue
				}
				in.Open = false
				s.hub.Changed()
			}
			lt, err := s.loadTester(base)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			open, err := lt.Check(ctx, g, c.Name, c.Namespace)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if open == in.Open {
				continue
			}
			if err := s.apply(ctx, base, in); err != nil {
				errs = append(errs, err)
				continue
			}
			changed++
		}
	}
	s.setGateErr(errors.Join(errs...))
	return changed
}

// spent reports whether an open intent has done its work: the canary
// finished, or it is another revision than the one decided on.
func spent(c Canary, in Intent) bool {
	return spentWhy(c, in) != ""
}

func spentWhy(c Canary, in Intent) string {
	switch {
	case c.Phase == PhaseSucceeded:
		return "was promoted"
	case c.Phase == PhaseFailed:
		return "was rolled back"
	case in.Revision != "" && c.Revision != "" && in.Revision != c.Revision:
		return "moved to revision " + c.Revision
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (s *Service) setGateErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gateErr = err
}

func (s *Service) gateError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gateErr
}
