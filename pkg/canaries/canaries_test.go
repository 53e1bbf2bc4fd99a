package canaries_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

// trail is an in-memory audit log whose availability a test switches.
type trail struct {
	mu   sync.Mutex
	log  *audit.Log
	fail error
}

func newTrail() *trail { return &trail{log: &audit.Log{Store: audit.NewMemory()}} }

func (tr *trail) gates() canaries.AuditGates {
	return canaries.AuditGates{Log: func(context.Context) (*audit.Log, error) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if tr.fail != nil {
			return nil, tr.fail
		}
		return tr.log, nil
	}}
}

func (tr *trail) setFail(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.fail = err
}

func (tr *trail) entries(t *testing.T) []audit.Entry {
	t.Helper()
	es, err := tr.log.Store.Entries(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	nsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	eventGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}
)

func canaryObject(name, ns, lt string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
			"service":   map[string]any{"port": int64(8080)},
			"analysis": map[string]any{
				"interval": "10s", "threshold": int64(1), "stepWeights": []any{int64(10), int64(25), int64(50)},
				"metrics": []any{map[string]any{"name": "request-success-rate", "thresholdRange": map[string]any{"min": 99.5}, "interval": "30s"}},
				"webhooks": []any{
					map[string]any{"name": "approve", "type": "confirm-promotion", "url": lt + "/gate/check"},
					map[string]any{"name": "abort", "type": "rollback", "url": lt + "/rollback/check"},
				},
			},
		},
	}}
}

func setStatus(t *testing.T, dyn dynamic.Interface, name, ns string, status map[string]any) {
	t.Helper()
	ctx := context.Background()
	c, err := dyn.Resource(kubernetes.CanaryResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Object["status"] = status
	if _, err := dyn.Resource(kubernetes.CanaryResource).Namespace(ns).UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// call sends a request to the registry's routes as user u.
func call(reg *capability.Registry, u *access.User, method, path, body string) (int, string) {
	req := httptest.NewRequest(method, path, bytes.NewBufferString(body))
	req = req.WithContext(access.WithUser(req.Context(), u))
	w := httptest.NewRecorder()
	reg.Handler().ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// The canary capability against a real kube-apiserver and Flagger's real
// load tester: the informer shows the canary and its events, a sign-off
// needs Editor and a comment and is recorded before the gate opens, a
// restarted load tester gets the open gate back, and the gate is closed
// (and that recorded) once the canary is promoted.
func TestSignOffGatesOnRealLoadTester(t *testing.T) {
	kube := harness.StartKube(t)
	lt := harness.StartLoadTester(t, harness.LoadTesterOptions{NamespaceRegexp: "^shop$"})
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(kube.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(nsGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(kubernetes.CanaryResource).Namespace("shop").Create(ctx, canaryObject("checkout", "shop", lt.URL), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setStatus(t, dyn, "checkout", "shop", map[string]any{"phase": "WaitingPromotion", "canaryWeight": int64(50),
		"failedChecks": int64(0), "iterations": int64(0), "lastAppliedSpec": "rev-1", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)})
	now := time.Now().UTC().Format(time.RFC3339)
	if _, err := dyn.Resource(eventGVR).Namespace("shop").Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Event", "metadata": map[string]any{"name": "checkout.1", "namespace": "shop"},
		"involvedObject": map[string]any{"kind": "Canary", "name": "checkout", "namespace": "shop", "apiVersion": "flagger.app/v1beta1"},
		"reason":         "Synced", "type": "Normal", "message": "Advance checkout.shop canary weight 50", "count": int64(1),
		"firstTimestamp": now, "lastTimestamp": now, "source": map[string]any{"component": "flagger"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	kc, err := kubernetes.NewForConfig(rest.CopyConfig(kube.AdminConfig))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTrail()
	reg := capability.New()
	svc := canaries.Register(reg, canaries.Options{Kube: kc, Namespaces: []string{"shop"}, Gates: rec.gates(), GateEvery: 200 * time.Millisecond})
	t.Cleanup(reg.Dispose)

	var c canaries.Canary
	eventually(t, 20*time.Second, "the canary shows with its event", func() error {
		var ok bool
		c, ok = svc.Canary(ctx, "shop", "checkout")
		if !ok || len(c.History) == 0 {
			return fmt.Errorf("canary %v, history %d", ok, len(c.History))
		}
		return nil
	})
	if !c.AwaitingDecision || c.Phase != canaries.PhaseWaitingPromotion || c.Weight != 50 || c.History[0].Kind != canaries.HistoryProgression {
		t.Fatalf("canary %+v", c)
	}

	check := func(g loadtester.Gate) bool {
		t.Helper()
		cl, _ := loadtester.New(lt.URL)
		open, err := cl.Check(ctx, g, "checkout", "shop")
		if err != nil {
			t.Fatal(err)
		}
		return open
	}
	viewer := &access.User{Login: "vic", Role: access.Viewer}
	editor := &access.User{Login: "eve", Name: "Eve", Role: access.Editor}
	if code, _ := call(reg, viewer, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"ok"}`); code != http.StatusForbidden {
		t.Fatalf("a Viewer's promotion: HTTP %d, want 403", code)
	}
	if code, body := call(reg, editor, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"  "}`); code != http.StatusBadRequest || !strings.Contains(body, "comment") {
		t.Fatalf("no comment: HTTP %d %s", code, body)
	}
	rec.setFail(fmt.Errorf("audit store down"))
	if code, body := call(reg, editor, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"looks good"}`); code != http.StatusServiceUnavailable || check(loadtester.Confirm) {
		t.Fatalf("unrecorded decision: HTTP %d %s, gate open %v (must stay closed)", code, body, check(loadtester.Confirm))
	}
	rec.setFail(nil)
	if code, _ := call(reg, &access.User{Login: "sa-1-deployer", Role: access.Admin}, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"ci"}`); code != http.StatusForbidden {
		t.Fatalf("a service account's promotion: HTTP %d, want 403", code)
	}
	if len(rec.entries(t)) != 0 || check(loadtester.Confirm) {
		t.Fatal("a viewer's or a refused decision reached the recorder or the gate")
	}
	code, body := call(reg, editor, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"error budget intact"}`)
	var resp canaries.DecisionResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &resp) != nil || !resp.Applied || resp.Canary.AwaitingDecision {
		t.Fatalf("promotion: HTTP %d %s", code, body)
	}
	if !check(loadtester.Confirm) || check(loadtester.Rollback) {
		t.Fatal("after the sign-off the confirm gate is not open (or the rollback gate is)")
	}
	if d := rec.entries(t); len(d) != 1 || d[0].Actor.Login != "eve" || d[0].Action != audit.GateOpen || d[0].Subject != "gate:gate/shop/checkout" || d[0].Comment != "error budget intact" {
		t.Fatalf("recorded %+v", d)
	}

	// The load tester restarts and forgets: MeshWatch opens the gate again.
	lt.Restart()
	eventually(t, 10*time.Second, "the gate is re-applied after the restart", func() error {
		if !check(loadtester.Confirm) {
			return fmt.Errorf("closed")
		}
		return nil
	})

	// Someone opens the rollback gate without a sign-off: closed again.
	cl, _ := loadtester.New(lt.URL)
	if err := cl.Open(ctx, loadtester.Rollback, "checkout", "shop"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "an unapproved rollback gate is closed", func() error {
		if check(loadtester.Rollback) {
			return fmt.Errorf("still open")
		}
		return nil
	})

	// Promoted: the gate closes so that the next revision waits for its own
	// decision, and the closing is recorded.
	setStatus(t, dyn, "checkout", "shop", map[string]any{"phase": "Succeeded", "canaryWeight": int64(0),
		"failedChecks": int64(0), "iterations": int64(0), "lastAppliedSpec": "rev-1", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)})
	eventually(t, 10*time.Second, "the gate closes after the promotion", func() error {
		if check(loadtester.Confirm) {
			return fmt.Errorf("still open")
		}
		return nil
	})
	d := rec.entries(t)
	if len(d) != 2 || d[1].Actor != audit.System || d[1].Action != audit.GateClose || !strings.Contains(d[1].Comment, "promoted") {
		t.Fatalf("recorded %+v", d)
	}
	if v := audit.Verify(d); !v.OK {
		t.Fatalf("the trail does not verify: %+v", v)
	}
	if code, body := call(reg, editor, http.MethodPost, "/canaries/shop/checkout/rollback", `{"comment":"too late"}`); code != http.StatusConflict || !strings.Contains(body, "Succeeded") {
		t.Fatalf("rollback of a promoted canary: HTTP %d %s", code, body)
	}

	// An incident of the target workload (or its primary) finds the canary.
	if got, ok := svc.ForWorkload(ctx, "shop", "checkout-primary"); !ok || got.Name != "checkout" {
		t.Fatalf("ForWorkload(shop, checkout-primary) = %v, %v", got.Name, ok)
	}
	if _, ok := svc.ForWorkload(ctx, "other", "checkout"); ok {
		t.Fatal("ForWorkload matched a canary of another namespace")
	}

	// Reading needs only a Viewer; the list says nothing is stale.
	code, body = call(reg, viewer, http.MethodGet, "/canaries", "")
	var list canaries.ListResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Canaries) != 1 || list.Error != "" {
		t.Fatalf("list: HTTP %d %s", code, body)
	}
}

// A ServiceAccount without RBAC, and an API server that is not there: the
// list says why it is stale, and names what to fix.
func TestWatchFailuresAreReported(t *testing.T) {
	kube := harness.StartKube(t)
	sa, err := kubernetes.NewForConfig(kube.AsServiceAccount("grafana", "grafana"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := kubernetes.NewForConfig(&rest.Config{Host: "https://127.0.0.1:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for name, kc := range map[string]*kubernetes.Client{"forbidden": sa, "unreachable": gone} {
		reg := capability.New()
		canaries.Register(reg, canaries.Options{Kube: kc, Namespaces: []string{"shop"}})
		want := map[string]string{"forbidden": "apply deploy/'s RBAC", "unreachable": "unreachable"}[name]
		eventually(t, 20*time.Second, name, func() error {
			_, body := call(reg, &access.User{Login: "v", Role: access.Viewer}, http.MethodGet, "/canaries", "")
			var list canaries.ListResponse
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				return err
			}
			if !strings.Contains(list.Error, want) {
				return fmt.Errorf("error %q lacks %q", list.Error, want)
			}
			return nil
		})
		reg.Dispose()
	}
}
