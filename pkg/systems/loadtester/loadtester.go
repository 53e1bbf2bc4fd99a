// Package loadtester is MeshWatch's client of Flagger's load tester gates
// (fluxcd/flagger pkg/loadtester/server.go): /gate/open, /gate/close and
// /gate/check, and the same trio under /rollback/, each taking
// {"name","namespace"} of a canary. Flagger's confirm-rollout and
// confirm-promotion webhooks ask /gate/check (200 open, 403 closed), its
// rollback webhook /rollback/check (200: roll back now).
//
// The load tester keeps the gates in memory, closed by default: a restart
// forgets every open gate, which is why MeshWatch keeps the state it wants
// and re-applies it (Check tells what the load tester holds now). The key
// is name.namespace only, so an open gate approves every later stage and
// revision until it is closed.
package loadtester

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Flagger load tester"

// Gate is which of the two gate trios a call uses.
type Gate string

// The load tester's gates.
const (
	// Confirm is /gate/*: asked by confirm-rollout and confirm-promotion.
	Confirm Gate = "gate"
	// Rollback is /rollback/*: asked by the rollback webhook.
	Rollback Gate = "rollback"
)

// Timeout bounds one call.
const Timeout = 5 * time.Second

// Client calls one load tester.
type Client struct {
	up *upstream.Client
}

// New returns a client of the load tester at baseURL
// (http://flagger-loadtester.test, say).
func New(baseURL string) (*Client, error) {
	up, err := upstream.New(upstream.Config{Name: Name, BaseURL: baseURL, Timeout: Timeout, MaxResponseBytes: 64 << 10})
	if err != nil {
		return nil, err
	}
	return &Client{up: up}, nil
}

// Target is the load tester as messages show it.
func (c *Client) Target() string { return c.up.BaseURL() }

// Release releases pooled connections.
func (c *Client) Release() { c.up.CloseIdleConnections() }

// canary is the load tester's payload: Flagger's CanaryWebhookPayload, of
// which the gates read name and namespace only.
type canary struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Open opens gate g of the canary (the load tester answers 202).
func (c *Client) Open(ctx context.Context, g Gate, name, namespace string) error {
	_, err := c.call(ctx, string(g)+"/open", name, namespace)
	return err
}

// Shut closes gate g of the canary (202).
func (c *Client) Shut(ctx context.Context, g Gate, name, namespace string) error {
	_, err := c.call(ctx, string(g)+"/close", name, namespace)
	return err
}

// Check reports whether gate g of the canary is open: 200 is open, 403
// closed (also what a namespace outside --namespace-regexp gets).
func (c *Client) Check(ctx context.Context, g Gate, name, namespace string) (bool, error) {
	_, err := c.call(ctx, string(g)+"/check", name, namespace)
	var ue *upstream.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ue) && ue.Status == http.StatusForbidden:
		return false, nil
	}
	return false, err
}

// call POSTs the canary to path; any 2xx is success (open and close answer
// 202, check 200).
func (c *Client) call(ctx context.Context, path, name, namespace string) ([]byte, error) {
	if name == "" || namespace == "" {
		return nil, fmt.Errorf("%s: a gate needs the canary's name and namespace", Name)
	}
	body, err := json.Marshal(canary{Name: name, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	return c.up.Do(ctx, http.MethodPost, path, nil, bytes.NewReader(body), "application/json")
}
