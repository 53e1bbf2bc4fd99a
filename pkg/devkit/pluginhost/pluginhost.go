// Package pluginhost starts a backend plugin binary the way Grafana does —
// hashicorp/go-plugin with the SDK's handshake, gRPC only, the pluginv2
// services — and offers typed calls for health, resources and streams. The
// protocol test and the preview host both use it; neither is Grafana.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// Options configure how the binary is started.
type Options struct {
	// Path of the plugin executable (dist/gpx_<name>_<os>_<arch>).
	Path string
	// Env is the whole environment of the plugin process, as Grafana >= 12.4
	// passes only what it chooses (GF_* and proxy variables).
	Env []string
	// Log receives the plugin's log lines (hclog JSON); nil discards them.
	Log io.Writer
	// StartTimeout bounds the handshake (default 30 s).
	StartTimeout time.Duration
}

// Plugin is a running plugin process.
type Plugin struct {
	client      *goplugin.Client
	diagnostics grpcplugin.DiagnosticsClient
	resource    grpcplugin.ResourceClient
	stream      grpcplugin.StreamClient
	once        sync.Once
}

// Start launches the binary and completes the go-plugin handshake.
func Start(opts Options) (*Plugin, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	logOut := opts.Log
	if logOut == nil {
		logOut = io.Discard
	}
	cmd := exec.Command(opts.Path) // #nosec G204 -- the host starts the plugin it was told to
	cmd.Env = opts.Env
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
				"stream":      &grpcplugin.StreamGRPCPlugin{},
			},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		SkipHostEnv:      true,
		StartTimeout:     opts.StartTimeout,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logOut, Level: hclog.Debug}),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s did not complete the Grafana handshake: %w", opts.Path, err)
	}
	p := &Plugin{client: client}
	if raw, err := rpc.Dispense("diagnostics"); err == nil {
		p.diagnostics, _ = raw.(grpcplugin.DiagnosticsClient)
	}
	if raw, err := rpc.Dispense("resource"); err == nil {
		p.resource, _ = raw.(grpcplugin.ResourceClient)
	}
	if raw, err := rpc.Dispense("stream"); err == nil {
		p.stream, _ = raw.(grpcplugin.StreamClient)
	}
	if p.diagnostics == nil || p.resource == nil {
		p.Kill()
		return nil, errors.New("plugin does not serve the diagnostics and resource services")
	}
	return p, nil
}

// Pid is the plugin process's id (0 when unknown).
func (p *Plugin) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Kill stops the plugin process.
func (p *Plugin) Kill() { p.once.Do(p.client.Kill) }

// Exited reports whether the process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// CheckHealth calls the plugin's CheckHealth.
func (p *Plugin) CheckHealth(ctx context.Context, pc backend.PluginContext) (*backend.CheckHealthResult, error) {
	resp, err := p.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{
		PluginContext: backend.ToProto().PluginContext(pc),
	})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// Response is a resource call's answer, with the streamed chunks joined.
type Response struct {
	Status  int
	Headers map[string][]string
	Body    []byte
}

// CallResource calls the plugin's CallResource and collects the answer.
func (p *Plugin) CallResource(ctx context.Context, req *backend.CallResourceRequest) (*Response, error) {
	stream, err := p.resource.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return nil, err
	}
	var out *Response
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		r := backend.FromProto().CallResourceResponse(msg)
		if out == nil {
			out = &Response{Status: r.Status, Headers: r.Headers}
		}
		out.Body = append(out.Body, r.Body...)
	}
	if out == nil {
		return nil, errors.New("plugin sent no resource response")
	}
	return out, nil
}

// SubscribeStream asks the plugin whether a Live channel path may be joined.
func (p *Plugin) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if p.stream == nil {
		return nil, errors.New("plugin does not serve streams")
	}
	resp, err := p.stream.SubscribeStream(ctx, backend.ToProto().SubscribeStreamRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().SubscribeStreamResponse(resp), nil
}

// RunStream runs a Live channel and hands each packet to onPacket until the
// plugin ends the stream or ctx is cancelled.
func (p *Plugin) RunStream(ctx context.Context, req *backend.RunStreamRequest, onPacket func(*backend.StreamPacket) error) error {
	if p.stream == nil {
		return errors.New("plugin does not serve streams")
	}
	s, err := p.stream.RunStream(ctx, backend.ToProto().RunStreamRequest(req))
	if err != nil {
		return err
	}
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := onPacket(backend.FromProto().StreamPacket(msg)); err != nil {
			return err
		}
	}
}
