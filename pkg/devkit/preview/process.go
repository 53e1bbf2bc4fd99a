package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
)

// errPluginUnavailable is answered as Grafana does, with 503.
var errPluginUnavailable = errors.New("plugin unavailable")

// pluginEnv is the whole environment of the plugin process: what Grafana
// >= 12.4 gives a plugin (Grafana's own variables, no host environment).
func pluginEnv(meta pluginMeta, appURL string) []string {
	return []string{
		"GF_VERSION=" + grafanaVersion,
		"GF_EDITION=oss",
		"GF_PLUGIN_VERSION=" + meta.Info.Version,
		"GF_APP_URL=" + appURL,
	}
}

// process runs the plugin binary through pluginhost and starts it again when
// it has exited, as Grafana restarts a crashed plugin.
type process struct {
	opts pluginhost.Options
	log  *slog.Logger

	mu     sync.Mutex
	plugin *pluginhost.Plugin
	closed bool
}

func startProcess(path string, env []string, pluginLog io.Writer, log *slog.Logger) (*process, error) {
	p := &process{opts: pluginhost.Options{Path: path, Env: env, Log: pluginLog}, log: log}
	if _, err := p.get(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) get() (*pluginhost.Plugin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPluginUnavailable
	}
	if p.plugin != nil && !p.plugin.Exited() {
		return p.plugin, nil
	}
	if p.plugin != nil {
		p.log.Warn("plugin process exited; starting it again")
	}
	pl, err := pluginhost.Start(p.opts)
	if err != nil {
		p.plugin = nil
		return nil, fmt.Errorf("%w: %w", errPluginUnavailable, err)
	}
	p.plugin = pl
	return pl, nil
}

// Close stops the plugin for good.
func (p *process) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.plugin != nil {
		p.plugin.Kill()
	}
}

func (p *process) CheckHealth(ctx context.Context, pc backend.PluginContext) (*backend.CheckHealthResult, error) {
	pl, err := p.get()
	if err != nil {
		return nil, err
	}
	return pl.CheckHealth(ctx, pc)
}

func (p *process) CallResource(ctx context.Context, req *backend.CallResourceRequest) (*pluginhost.Response, error) {
	pl, err := p.get()
	if err != nil {
		return nil, err
	}
	return pl.CallResource(ctx, req)
}

func (p *process) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	pl, err := p.get()
	if err != nil {
		return nil, err
	}
	return pl.SubscribeStream(ctx, req)
}

func (p *process) RunStream(ctx context.Context, req *backend.RunStreamRequest, onPacket func(*backend.StreamPacket) error) error {
	pl, err := p.get()
	if err != nil {
		return err
	}
	return pl.RunStream(ctx, req, onPacket)
}
