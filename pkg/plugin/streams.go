package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/capability"
)

// SubscribeStream asks the capability that owns the channel path whether
// the user may join, and hands them its current frame.
func (a *App) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	s := a.reg.StreamAt(req.Path)
	if s == nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	raw, err := s.Subscribe(ctx, userOf(req.PluginContext.User), req.Data)
	if errors.Is(err, capability.ErrForbidden) {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusPermissionDenied}, nil
	}
	if err != nil {
		return nil, err
	}
	resp := &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}
	if raw != nil {
		if initial, err := backend.NewInitialData(raw); err == nil {
			resp.InitialData = initial
		}
	}
	return resp, nil
}

// PublishStream refuses every publication: the channels are server-fed.
func (a *App) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream runs the channel's stream until Grafana cancels ctx (no
// subscriber left). On a disposed instance it ends with an error saying the
// settings changed: Grafana then re-establishes the stream, on the instance
// that replaced this one.
func (a *App) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	s := a.reg.StreamAt(req.Path)
	if s == nil {
		return fmt.Errorf("no stream at path %q", req.Path)
	}
	return s.Run(ctx, req.Data, func(f *data.Frame) error {
		return sender.SendFrame(f, data.IncludeAll)
	})
}
