package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// hasCanary reports whether a scenario rolls out a canary (its Canary is
// then mirrored into a kube-apiserver for the Canaries page).
func hasCanary(name string) bool { return strings.HasPrefix(name, "canary") }

// mirrorCanaries starts a kube-apiserver (Flagger's and Istio's CRDs) and
// keeps the simulated mesh's Canary, its namespace and its Events there,
// status and all, once a second, so the plugin's canary capability reads
// them as it reads a cluster's (url mode, with the API server's admin
// token from Secrets: a preview, never a cluster). The Canary's gate
// webhooks are pointed at the simulator's own load tester gates, which its
// simulated Flagger asks: a sign-off that opens a gate moves the simulated
// canary on.
func (s *Stack) mirrorCanaries(logf func(string, ...any)) error {
	var kube *harness.Kube
	if err := s.session.Do(func(t harness.T) { kube = harness.StartKube(t) }); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(kube.AdminConfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.syncCanaries(ctx, dyn); err != nil {
		cancel()
		return fmt.Errorf("mirror the canary: %w", err)
	}
	s.Kube, s.KubeCA, s.kubeToken = kube.URL, string(kube.AdminConfig.CAData), kube.AdminConfig.BearerToken
	prev := s.cancel
	s.cancel = func() {
		cancel()
		if prev != nil {
			prev()
		}
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.syncCanaries(ctx, dyn); err != nil && ctx.Err() == nil {
				logf("stack: mirroring the canary: %v", err)
			}
		}
	}()
	logf("stack: the canary is mirrored into the kube-apiserver at %s", kube.URL)
	return nil
}

// syncCanaries applies the simulator's namespaces, Canaries and canary
// Events now.
func (s *Stack) syncCanaries(ctx context.Context, dyn dynamic.Interface) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Simulator+"/k8s", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var objs []simulator.Object
	if err := json.NewDecoder(resp.Body).Decode(&objs); err != nil {
		return err
	}
	var keep []simulator.Object
	for _, o := range objs {
		switch o["kind"] {
		case "Namespace":
			keep = append(keep, o)
		case "Canary":
			keep = append(keep, gatesToSimulator(o, s.Simulator))
			if s.gallery {
				keep = append(keep, phaseGallery(gatesToSimulator(o, s.Simulator), time.Now())...)
			}
		case "Event":
			if io, _ := o["involvedObject"].(map[string]any); io["kind"] == "Canary" {
				keep = append(keep, o)
			}
		}
	}
	return simulator.ApplyObjects(ctx, dyn, keep, true)
}

// gatesToSimulator points a Canary's gate webhooks (the load tester's
// /gate/check and /rollback/check) at the simulator, which serves them.
func gatesToSimulator(o simulator.Object, sim string) simulator.Object {
	u := unstructured.Unstructured{Object: o}
	hooks, _, _ := unstructured.NestedSlice(u.Object, "spec", "analysis", "webhooks")
	for _, h := range hooks {
		m, _ := h.(map[string]any)
		switch m["type"] {
		case "confirm-rollout", "confirm-promotion", "rollback":
			if p, err := url.Parse(fmt.Sprint(m["url"])); err == nil {
				m["url"] = sim + p.Path
			}
		}
	}
	_ = unstructured.SetNestedSlice(u.Object, hooks, "spec", "analysis", "webhooks")
	return u.Object
}

// Secrets are the app's secureJsonData values the stack's settings need:
// the token of its kube-apiserver (canary scenarios only).
func (s *Stack) Secrets() map[string]string {
	if s.kubeToken == "" {
		return nil
	}
	return map[string]string{"kubernetesToken": s.kubeToken}
}
