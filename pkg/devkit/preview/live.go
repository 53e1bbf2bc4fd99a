package preview

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Plugin streams (Grafana Live) over one websocket per page.
//
// Grafana speaks the Centrifuge protocol on /api/live/ws; the preview host
// speaks a small JSON protocol of its own on the same path, and its host page
// turns it into the same GrafanaLiveSrv observables (getStream) the plugin's
// frontend uses. What the plugin backend sees is Grafana's: SubscribeStream
// with the channel path, the subscription data and the user's PluginContext,
// then RunStream whose packets are forwarded as they come.
//
// Browser -> host:  {"id":1,"subscribe":{"channel":"plugin/<id>/<path>","data":{...}}}
//                   {"id":1,"unsubscribe":true}
// Host -> browser:  {"id":1,"status":"subscribed","data":<initial data or null>}
//                   {"id":1,"message":<packet data>}
//                   {"id":1,"status":"error","error":"..."}
//                   {"id":1,"status":"closed"}                 (RunStream ended)

type liveRequest struct {
	ID        int64 `json:"id"`
	Subscribe *struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data,omitempty"`
	} `json:"subscribe,omitempty"`
	Unsubscribe bool `json:"unsubscribe,omitempty"`
}

type liveEvent struct {
	ID      int64           `json:"id"`
	Status  string          `json:"status,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Message json.RawMessage `json:"message,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// maxLiveSubscriptions bounds the streams one page may run at once.
const maxLiveSubscriptions = 32

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	u := userOf(r, s.defaultRole)
	conn, err := websocket.Accept(w, r, nil) // same-origin only (the default)
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	var mu sync.Mutex
	subs := map[int64]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}()
	send := func(ev liveEvent) {
		_ = wsjson.Write(ctx, conn, ev)
	}

	for {
		var req liveRequest
		if err := wsjson.Read(ctx, conn, &req); err != nil {
			return
		}
		switch {
		case req.Unsubscribe:
			mu.Lock()
			if stop, ok := subs[req.ID]; ok {
				stop()
				delete(subs, req.ID)
			}
			mu.Unlock()
		case req.Subscribe != nil:
			path, err := s.pluginChannelPath(req.Subscribe.Channel)
			if err != nil {
				send(liveEvent{ID: req.ID, Status: "error", Error: err.Error()})
				continue
			}
			mu.Lock()
			_, dup := subs[req.ID]
			full := len(subs) >= maxLiveSubscriptions
			var subCtx context.Context
			if !dup && !full {
				var stop context.CancelFunc
				subCtx, stop = context.WithCancel(ctx)
				subs[req.ID] = stop
			}
			mu.Unlock()
			if dup || full {
				send(liveEvent{ID: req.ID, Status: "error", Error: "subscription id in use or too many subscriptions"})
				continue
			}
			wg.Add(1)
			go func(id int64, data json.RawMessage) {
				defer wg.Done()
				s.runSubscription(subCtx, u, path, data, func(ev liveEvent) { ev.ID = id; send(ev) })
				mu.Lock()
				delete(subs, id)
				mu.Unlock()
			}(req.ID, req.Subscribe.Data)
		}
	}
}

// pluginChannelPath checks that a channel is one of this plugin's
// (plugin/<id>/<path>) and returns the path.
func (s *Server) pluginChannelPath(channel string) (string, error) {
	prefix := "plugin/" + s.meta.ID + "/"
	if !strings.HasPrefix(channel, prefix) || len(channel) == len(prefix) {
		return "", errors.New("the preview host runs only this plugin's streams (plugin/" + s.meta.ID + "/<path>)")
	}
	return strings.TrimPrefix(channel, prefix), nil
}

// runSubscription asks the plugin whether the user may join the channel and
// then runs the stream until it ends or the page unsubscribes.
func (s *Server) runSubscription(ctx context.Context, u user, path string, data json.RawMessage, send func(liveEvent)) {
	pc := s.pluginContext(u)
	resp, err := s.backend.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: pc, Path: path, Data: data})
	if err != nil {
		s.log.Error("SubscribeStream failed", "path", path, "error", err.Error())
		send(liveEvent{Status: "error", Error: "subscribe failed"})
		return
	}
	switch resp.Status {
	case backend.SubscribeStreamStatusOK:
	case backend.SubscribeStreamStatusNotFound:
		send(liveEvent{Status: "error", Error: "not found"})
		return
	case backend.SubscribeStreamStatusPermissionDenied:
		send(liveEvent{Status: "error", Error: "permission denied"})
		return
	default:
		send(liveEvent{Status: "error", Error: "unknown subscribe status"})
		return
	}
	var initial json.RawMessage
	if resp.InitialData != nil && json.Valid(resp.InitialData.Data()) {
		initial = resp.InitialData.Data()
	}
	send(liveEvent{Status: "subscribed", Data: initial})
	// Like Grafana's stream manager: a RunStream that ends with an error is
	// re-established, with the plugin context read again (after a settings
	// save that reaches the new app instance), with a growing pause.
	delay := 500 * time.Millisecond
	for {
		err = s.backend.RunStream(ctx, &backend.RunStreamRequest{PluginContext: pc, Path: path, Data: data},
			func(p *backend.StreamPacket) error {
				if !json.Valid(p.Data) {
					return nil
				}
				send(liveEvent{Message: p.Data})
				return ctx.Err()
			})
		if ctx.Err() != nil {
			return // unsubscribed or page gone
		}
		if err == nil {
			send(liveEvent{Status: "closed"})
			return
		}
		s.log.Info("RunStream ended with an error, re-establishing", "path", path, "error", err.Error(), "wait", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if delay < 8*time.Second {
			delay *= 2
		}
		pc = s.pluginContext(u)
	}
}
