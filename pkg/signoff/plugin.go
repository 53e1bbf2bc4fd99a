package signoff

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/actions"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/storage"
	"github.com/meshwatch/meshwatch/pkg/systems"
)

// Wire registers the sign-off capability of one app instance from its
// settings: the audit trail in the incident database storage names
// (opened on first use, beside the incident capability's handle on the same
// database: SQLite's write lock, or PostgreSQL's advisory lock on the chain,
// keeps the chain linear across both and across Grafana's replicas), the
// sign-off role (signOff.role; an invalid one falls back to Admin, the
// strictest, and says so in the health report), and the executor acting as
// the plugin's ServiceAccount (sys's Kubernetes client) in
// kubernetes.namespaces. Gates need the load tester's URL, which the
// settings do not carry yet: gate decisions are recorded, not carried out,
// until Executor.LoadTester is set.
func Wire(reg *capability.Registry, cfg settings.Settings, loadErr error, sys *systems.Set) *Capability {
	role := access.Role(cfg.SignOff.Role)
	if err := systems.SectionErr(loadErr, "signOff"); err != nil || (role != access.Editor && role != access.Admin) {
		role = access.Admin
		msg := "signOff.role is invalid: only Admins may sign off until it is fixed"
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		reg.HealthLine(health.Result{Name: "Sign-off", Status: health.Warning, Message: msg})
	}
	exec := &actions.Executor{Bounds: actions.DefaultBounds, Namespaces: cfg.Kubernetes.Namespaces}
	if sys != nil && sys.Kubernetes != nil {
		exec.Kube = sys.Kubernetes.Dynamic()
	} else if sys != nil {
		exec.KubeErr = sys.KubernetesErr
	}
	if exec.KubeErr == nil && exec.Kube == nil {
		exec.KubeErr = errors.New("no Kubernetes client")
	}
	var mu sync.Mutex
	var opened storage.Backend
	o := Options{
		StoreErr: systems.SectionErr(loadErr, "storage"),
		Open: func(ctx context.Context) (audit.Store, error) {
			s, err := storage.Open(ctx, cfg.Storage, incident.Config{Rules: incident.DefaultRules}, storage.Option{Conns: 2})
			if err != nil {
				return nil, err
			}
			mu.Lock()
			opened = s
			mu.Unlock()
			return s, nil
		},
		Close:    func(s audit.Store) { _ = s.(storage.Backend).Close() },
		Role:     role,
		Executor: exec,
		Evidence: func(ctx context.Context, id int64) (json.RawMessage, json.RawMessage, error) {
			mu.Lock()
			s := opened
			mu.Unlock()
			if s == nil {
				return nil, nil, errors.New("the store is not open")
			}
			ev, err := s.Evidence(ctx, id)
			if errors.Is(err, incident.ErrNotFound) {
				return nil, nil, nil // no capture (or the incident was pruned): the verdict alone
			}
			if err != nil {
				return nil, nil, err
			}
			return ev.Pack, ev.Findings, nil
		},
	}
	return Register(reg, o)
}
