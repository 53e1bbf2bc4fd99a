package canaries

import (
	"context"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/signoff"
	"github.com/meshwatch/meshwatch/pkg/systems"
)

// Wire registers the canary capability of one app instance from its
// settings: the canaries of kubernetes.namespaces through sys's Kubernetes
// client, Flagger's analysis values from sys's Prometheus, and the gates
// kept in the sign-off capability's audit trail (the one decision log), so
// that so's gate route and the Canaries page share one gate state; the
// sign-off role (signOff.role, Admin when invalid) may decide. The canaries
// Flagger fails go to raise (nil: none), which opens them as incidents;
// with several replicas only the active one (active) keeps the gates and
// raises.
func Wire(reg *capability.Registry, cfg settings.Settings, sys *systems.Set, so *signoff.Capability, raise Raise, active func() bool) *Service {
	o := Options{Kube: sys.Kubernetes, KubeErr: sys.KubernetesErr, Namespaces: cfg.Kubernetes.Namespaces, Role: access.Role(cfg.SignOff.Role),
		Raise: raise, Active: active}
	if sys.Prometheus != nil {
		o.Prometheus = sys.Prometheus.API()
	}
	if so != nil {
		o.Gates = AuditGates{Log: func(ctx context.Context) (*audit.Log, error) {
			svc, err := so.Service(ctx)
			if err != nil {
				return nil, err
			}
			return svc.Log(), nil
		}}
	}
	if o.Role != access.Editor {
		o.Role = access.Admin // an invalid role: the strictest, as the sign-off capability does
	}
	return Register(reg, o)
}
