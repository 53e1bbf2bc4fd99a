package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
)

// Refusal is why Check refused an action (nothing was called).
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// Check is the allowlist: nil when a is one of the allowed actions, well
// formed, within b, and in one of namespaces (when that list is not
// empty); a *Refusal otherwise.
func Check(a Action, b Bounds, namespaces []string) error {
	if a.Kind != Restart && a.Kind != Scale && a.Kind != Gate {
		return refuse("%q is not an allowlisted action (allowed: restart, scale, gate); follow the step by hand", a.Kind)
	}
	if errs := validation.IsDNS1123Label(a.Namespace); len(errs) > 0 {
		return refuse("namespace %q: %s", a.Namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(a.Name); len(errs) > 0 {
		return refuse("name %q: %s", a.Name, strings.Join(errs, "; "))
	}
	if len(namespaces) > 0 && !slices.Contains(namespaces, a.Namespace) {
		return refuse("namespace %s is not one MeshWatch watches (kubernetes.namespaces: %s)", a.Namespace, strings.Join(namespaces, ", "))
	}
	switch a.Kind {
	case Restart:
		if a.Replicas != nil || a.Gate != "" || a.Op != "" {
			return refuse("a restart takes only the Deployment's namespace and name")
		}
	case Scale:
		if a.Replicas == nil {
			return refuse("a scale needs the number of replicas")
		}
		if *a.Replicas < b.MinReplicas || *a.Replicas > b.MaxReplicas {
			return refuse("%d replicas is outside the allowed %d to %d", *a.Replicas, b.MinReplicas, b.MaxReplicas)
		}
	case Gate:
		if a.Gate != GateConfirm && a.Gate != GateRollback {
			return refuse("gate %q is neither %q nor %q", a.Gate, GateConfirm, GateRollback)
		}
		if a.Op != OpOpen && a.Op != OpClose {
			return refuse("gate operation %q is neither %q nor %q", a.Op, OpOpen, OpClose)
		}
	}
	return nil
}

// DeploymentResource is apps/v1 Deployments.
var DeploymentResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// Executor runs allowlisted actions.
type Executor struct {
	// Kube is the dynamic client acting as the plugin's ServiceAccount;
	// nil when Kubernetes cannot be reached (KubeErr says why).
	Kube    dynamic.Interface
	KubeErr error
	// LoadTester is the base URL of Flagger's load tester ("" when gates
	// are not configured); HTTP its client (nil: a 10 s timeout client).
	LoadTester string
	HTTP       *http.Client
	Bounds     Bounds
	// Namespaces limits where actions may run (empty: anywhere RBAC allows).
	Namespaces []string
	Now        func() time.Time
}

// Run checks a against the allowlist and runs it. A refused action returns
// a *Refusal and calls nothing; a failed call returns a Result with OK
// false and the server's answer, and an error.
func (x *Executor) Run(ctx context.Context, a Action) (Result, error) {
	if err := Check(a, x.Bounds, x.Namespaces); err != nil {
		return Result{Summary: err.Error()}, err
	}
	switch a.Kind {
	case Restart, Scale:
		if x.Kube == nil {
			err := refuse("Kubernetes cannot be reached: %v", x.KubeErr)
			return Result{Summary: err.Error()}, err
		}
		if a.Kind == Restart {
			return x.restart(ctx, a)
		}
		return x.scale(ctx, a)
	default:
		if x.LoadTester == "" {
			err := refuse("no Flagger load tester is configured for gates")
			return Result{Summary: err.Error()}, err
		}
		return x.gate(ctx, a)
	}
}

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// restart patches the pod template's restartedAt annotation, as kubectl
// rollout restart does (it, too, refuses a paused Deployment).
func (x *Executor) restart(ctx context.Context, a Action) (Result, error) {
	deps := x.Kube.Resource(DeploymentResource).Namespace(a.Namespace)
	cur, err := deps.Get(ctx, a.Name, metav1.GetOptions{})
	if err != nil {
		return kubeFailure(a, err)
	}
	if paused, _, _ := unstructured.NestedBool(cur.Object, "spec", "paused"); paused {
		err := refuse("deployment %s/%s is paused (resume its rollout first)", a.Namespace, a.Name)
		return Result{Summary: err.Error()}, err
	}
	at := x.now().UTC().Format(time.RFC3339)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{RestartedAtAnnotation: at}}}}})
	out, err := deps.Patch(ctx, a.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "meshwatch"})
	if err != nil {
		return kubeFailure(a, err)
	}
	return Result{OK: true, Status: http.StatusOK, Summary: fmt.Sprintf("%s: restartedAt %s, generation %d", a, at, out.GetGeneration()),
		Answer: deploymentAnswer(out)}, nil
}

// scale patches the scale subresource's spec.replicas.
func (x *Executor) scale(ctx context.Context, a Action) (Result, error) {
	deps := x.Kube.Resource(DeploymentResource).Namespace(a.Namespace)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": *a.Replicas}})
	out, err := deps.Patch(ctx, a.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "meshwatch"}, "scale")
	if err != nil {
		return kubeFailure(a, err)
	}
	replicas, _, _ := unstructured.NestedInt64(out.Object, "spec", "replicas")
	ans, _ := json.Marshal(map[string]any{"kind": out.GetKind(), "name": out.GetName(), "namespace": out.GetNamespace(),
		"resourceVersion": out.GetResourceVersion(), "replicas": replicas})
	return Result{OK: true, Status: http.StatusOK, Summary: fmt.Sprintf("%s: the API server set spec.replicas to %d", a, replicas), Answer: ans}, nil
}

func deploymentAnswer(d *unstructured.Unstructured) json.RawMessage {
	restartedAt, _, _ := unstructured.NestedString(d.Object, "spec", "template", "metadata", "annotations", RestartedAtAnnotation)
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	b, _ := json.Marshal(map[string]any{"kind": "Deployment", "name": d.GetName(), "namespace": d.GetNamespace(),
		"resourceVersion": d.GetResourceVersion(), "generation": d.GetGeneration(), "restartedAt": restartedAt, "replicas": replicas})
	return b
}

// kubeFailure is a failed API call's result: the server's status code and
// message (403 when the ServiceAccount's RBAC lacks the verb, 404 for no
// such Deployment).
func kubeFailure(a Action, err error) (Result, error) {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		ans, _ := json.Marshal(map[string]any{"code": s.Code, "reason": s.Reason, "message": s.Message})
		return Result{Status: int(s.Code), Summary: fmt.Sprintf("%s failed: the Kubernetes API answered %d %s: %s", a, s.Code, s.Reason, s.Message), Answer: ans},
			fmt.Errorf("%s: Kubernetes API: %s", a, s.Message)
	}
	return Result{Summary: fmt.Sprintf("%s failed: %v", a, err)}, fmt.Errorf("%s: %w", a, err)
}

// maxAnswer caps how much of the load tester's answer is kept.
const maxAnswer = 4 << 10

// gate posts {"name","namespace"} to the load tester's /<gate>/<op>, which
// answers 202 Accepted.
func (x *Executor) gate(ctx context.Context, a Action) (Result, error) {
	u := strings.TrimRight(x.LoadTester, "/") + "/" + a.Gate + "/" + a.Op
	body, _ := json.Marshal(map[string]string{"name": a.Name, "namespace": a.Namespace})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Result{Summary: fmt.Sprintf("%s failed: %v", a, err)}, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := x.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{Summary: fmt.Sprintf("%s failed: the load tester at %s cannot be reached: %v", a, x.LoadTester, err)}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	ans, _ := json.Marshal(map[string]any{"url": u, "status": resp.StatusCode, "body": string(raw)})
	if resp.StatusCode < 200 || resp.StatusCode > 202 {
		err := fmt.Errorf("%s: the load tester answered %s", a, resp.Status)
		return Result{Status: resp.StatusCode, Summary: err.Error(), Answer: ans}, err
	}
	return Result{OK: true, Status: resp.StatusCode, Summary: fmt.Sprintf("%s: the load tester answered %s", a, resp.Status), Answer: ans}, nil
}
