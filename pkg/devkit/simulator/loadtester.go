package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// The live simulator plays Flagger's load tester (flagger-loadtester) for
// the gates of the simulated Canary: the same endpoints, bodies and status
// codes (pkg/loadtester/server.go), so a program drives a simulated
// rollout the way it drives a real one. The Canary's confirm-rollout and
// confirm-promotion webhooks ask /gate/check, its rollback webhook
// /rollback/check (see Effect.Gates); every gate starts closed.
//
//	POST /gate/open      {"name": "payments", "namespace": "shop"}  202
//	POST /gate/close     {"name": "payments", "namespace": "shop"}  202
//	GET|POST /gate/check {"name": "payments", "namespace": "shop"}  200 open, 403 closed
//	POST /rollback/open, /rollback/close, GET|POST /rollback/check: the same for rollbacks
//	/gate/approve 200, /gate/halt 403: the load tester's fixed answers
//
// The body is (a part of) Flagger's webhook payload; a GET may give name
// and namespace as query parameters instead.

// gateRequest is the part of Flagger's CanaryWebhookPayload a gate reads.
type gateRequest struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func readGateRequest(r *http.Request) (gateRequest, error) {
	var g gateRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return g, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &g); err != nil {
			return g, fmt.Errorf("decoding the request body failed: %w", err)
		}
	} else {
		q := r.URL.Query()
		g.Name, g.Namespace = q.Get("name"), q.Get("namespace")
	}
	if g.Name == "" || g.Namespace == "" {
		return g, errors.New("name and namespace of the canary are required")
	}
	return g, nil
}

// serveGate answers the gate endpoints; false means path is not one.
func (l *Live) serveGate(w http.ResponseWriter, r *http.Request) bool {
	var rollback bool
	var action string
	switch r.URL.Path {
	case "/gate/approve":
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "OK")
		return true
	case "/gate/halt":
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "Forbidden")
		return true
	case "/gate/open", "/gate/close", "/gate/check":
		action = r.URL.Path[len("/gate/"):]
	case "/rollback/open", "/rollback/close", "/rollback/check":
		rollback, action = true, r.URL.Path[len("/rollback/"):]
	default:
		return false
	}
	if action != "check" && r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return true
	}
	if action == "check" && r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return true
	}
	g, err := readGateRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch action {
	case "open", "close":
		l.e.setGate(g.Name, g.Namespace, rollback, action == "open")
		w.WriteHeader(http.StatusAccepted)
	default:
		key := g.Name + "." + g.Namespace
		if rollback {
			l.e.loadTesterLog(l.e.now, fmt.Sprintf("rollback.%s rollback check: approved %v", key, l.e.gateOpen(key, true)))
		} else {
			l.e.loadTesterLog(l.e.now, fmt.Sprintf("%s gate check: approved %v", key, l.e.gateOpen(key, false)))
		}
		if l.e.gateOpen(key, rollback) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "Approved")
		} else {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, "Forbidden")
		}
	}
	return true
}

// OpenGate opens the load tester's gate of the canary name.namespace (see
// Engine.OpenGate); the running simulation sees it at its next tick.
func (l *Live) OpenGate(name, namespace string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.OpenGate(name, namespace)
}

// CloseGate closes the gate of name.namespace.
func (l *Live) CloseGate(name, namespace string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.CloseGate(name, namespace)
}

// GateOpen reports whether the gate of name.namespace is open.
func (l *Live) GateOpen(name, namespace string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e.GateOpen(name, namespace)
}

// OpenRollback opens the rollback gate of name.namespace (see Engine.OpenRollback).
func (l *Live) OpenRollback(name, namespace string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.OpenRollback(name, namespace)
}

// CloseRollback closes the rollback gate of name.namespace.
func (l *Live) CloseRollback(name, namespace string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.CloseRollback(name, namespace)
}

// RollbackOpen reports whether the rollback gate of name.namespace is open.
func (l *Live) RollbackOpen(name, namespace string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e.RollbackOpen(name, namespace)
}

// DeleteCanary deletes the Canary (see Engine.DeleteCanary).
func (l *Live) DeleteCanary(name, namespace string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e.DeleteCanary(name, namespace)
}

// CreateCanary creates the Canary again (see Engine.CreateCanary).
func (l *Live) CreateCanary(name, namespace string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e.CreateCanary(name, namespace)
}

// CanaryStatus returns the Canary's status now.
func (l *Live) CanaryStatus() CanaryStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e.CanaryStatus()
}
