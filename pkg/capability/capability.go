// Package capability is the house rule of MeshWatch's backend: every
// capability (alerts, settings, and the incident pipeline to come) is built
// from its dependencies and registers what it offers into one Registry: its
// resource routes, its Grafana Live streams, its health checks, and what must
// stop when the app instance is disposed. The Grafana shell (pkg/plugin) only
// builds the registry, dispatches to it and disposes of it.
package capability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
)

// Stream is one Grafana Live channel (plugin/<plugin id>/<path>).
type Stream interface {
	// Subscribe decides whether u may join (ErrForbidden when not) and
	// returns the frame a new subscriber starts with, as JSON (nil: none).
	Subscribe(ctx context.Context, u *access.User, req json.RawMessage) ([]byte, error)
	// Run feeds the channel through send until ctx ends (it returns nil) or
	// the instance is disposed (it returns ErrDisposed, so that Grafana
	// re-establishes the stream on the instance that replaced this one).
	Run(ctx context.Context, req json.RawMessage, send func(*data.Frame) error) error
}

var (
	// ErrForbidden refuses a subscription.
	ErrForbidden = errors.New("permission denied")
	// ErrDisposed ends the streams of an instance Grafana disposed of, which
	// happens when the app's settings are saved (and to idle instances).
	ErrDisposed = errors.New("MeshWatch's settings changed (this app instance was replaced); the stream reconnects to the new one")
)

// Registry collects what the capabilities of one app instance offer.
type Registry struct {
	mux      *http.ServeMux
	streams  map[string]Stream
	families map[string]func(rest string) (Stream, bool)
	checks   []health.Check
	lines    []health.Result

	mu       sync.Mutex
	stops    []func()
	disposed bool
}

// New returns an empty registry.
func New() *Registry {
	r := &Registry{mux: http.NewServeMux(), streams: map[string]Stream{}, families: map[string]func(string) (Stream, bool){}}
	r.mux.HandleFunc("/", httpjson.NotFound)
	return r
}

// Route registers a resource route (a path under
// /api/plugins/<id>/resources, e.g. "/settings") answered by h for the
// given methods; other methods get 405.
func (r *Registry) Route(path string, h http.HandlerFunc, methods ...string) {
	r.mux.HandleFunc(path, httpjson.Methods(h, methods...))
}

// Stream registers the Live channel at path.
func (r *Registry) Stream(path string, s Stream) {
	if _, dup := r.streams[path]; dup {
		panic(fmt.Sprintf("capability: two streams at %q", path))
	}
	r.streams[path] = s
}

// StreamFamily registers the Live channels prefix/<rest> (one per incident,
// say): open returns the stream for rest, or false when there is no such
// channel. An exact Stream path wins over a family.
func (r *Registry) StreamFamily(prefix string, open func(rest string) (Stream, bool)) {
	if _, dup := r.families[prefix]; dup {
		panic(fmt.Sprintf("capability: two stream families at %q", prefix))
	}
	r.families[prefix] = open
}

// Health adds a line to the health check, in registration order.
func (r *Registry) Health(c health.Check) { r.checks = append(r.checks, c) }

// HealthLine adds a line that is known without probing anything (such as an
// invalid setting); such lines come first in the report.
func (r *Registry) HealthLine(res health.Result) { r.lines = append(r.lines, res) }

// HealthLines returns the lines added with HealthLine.
func (r *Registry) HealthLines() []health.Result { return append([]health.Result(nil), r.lines...) }

// OnDispose registers f to run when the instance is disposed, in reverse
// order of registration (what was started last stops first).
func (r *Registry) OnDispose(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stops = append(r.stops, f)
}

// Handler serves the registered routes.
func (r *Registry) Handler() http.Handler { return r.mux }

// StreamAt returns the stream at path, or nil.
func (r *Registry) StreamAt(path string) Stream {
	if s, ok := r.streams[path]; ok {
		return s
	}
	for prefix, open := range r.families {
		if rest, ok := strings.CutPrefix(path, prefix+"/"); ok && rest != "" {
			if s, ok := open(rest); ok {
				return s
			}
		}
	}
	return nil
}

// Checks returns the health checks in registration order.
func (r *Registry) Checks() []health.Check { return append([]health.Check(nil), r.checks...) }

// Dispose runs the OnDispose functions, once.
func (r *Registry) Dispose() {
	r.mu.Lock()
	if r.disposed {
		r.mu.Unlock()
		return
	}
	r.disposed = true
	stops := r.stops
	r.stops = nil
	r.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}
