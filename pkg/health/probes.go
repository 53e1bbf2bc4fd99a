package health

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// PrometheusProbe reads /api/v1/status/buildinfo.
//
// Deprecated: use prometheus.Client.Probe (pkg/systems/prometheus); this
// copy goes once pkg/plugin no longer calls it.
func PrometheusProbe(c *upstream.Client) Probe {
	return func(ctx context.Context) (Outcome, error) {
		var body struct {
			Status string `json:"status"`
			Data   struct {
				Version string `json:"version"`
			} `json:"data"`
		}
		if err := c.GetJSON(ctx, "/api/v1/status/buildinfo", nil, &body); err != nil {
			return Outcome{}, err
		}
		if body.Status != "success" {
			return Outcome{}, fmt.Errorf("%s did not answer like the Prometheus API (status %q)", c.BaseURL(), body.Status)
		}
		return Outcome{Version: body.Data.Version}, nil
	}
}

// LokiProbe reads /loki/api/v1/status/buildinfo.
//
// Deprecated: use loki.Client.Probe (pkg/systems/loki).
func LokiProbe(c *upstream.Client) Probe {
	return buildinfoProbe(c, "/loki/api/v1/status/buildinfo")
}

// TempoProbe reads /api/status/buildinfo.
//
// Deprecated: use tempo.Client.Probe (pkg/systems/tempo).
func TempoProbe(c *upstream.Client) Probe {
	return buildinfoProbe(c, "/api/status/buildinfo")
}

func buildinfoProbe(c *upstream.Client, path string) Probe {
	return func(ctx context.Context) (Outcome, error) {
		var body struct {
			Version string `json:"version"`
		}
		if err := c.GetJSON(ctx, path, nil, &body); err != nil {
			return Outcome{}, err
		}
		return Outcome{Version: body.Version}, nil
	}
}

// AlertmanagerProbe reads /api/v2/status.
//
// Deprecated: use alertmanager.Client.Probe (pkg/systems/alertmanager).
func AlertmanagerProbe(c *upstream.Client) Probe {
	return func(ctx context.Context) (Outcome, error) {
		var body struct {
			VersionInfo struct {
				Version string `json:"version"`
			} `json:"versionInfo"`
		}
		if err := c.GetJSON(ctx, "/api/v2/status", nil, &body); err != nil {
			return Outcome{}, err
		}
		return Outcome{Version: body.VersionInfo.Version}, nil
	}
}

// OllamaProbe reads /api/version and checks that model is pulled. The note
// says which kind of address the LLM sits at (the data egress guard).
//
// Deprecated: use ollama.Client.Probe (pkg/systems/ollama).
func OllamaProbe(c *upstream.Client, model string, allowExternal bool) Probe {
	return func(ctx context.Context) (Outcome, error) {
		u, _ := url.Parse(c.BaseURL())
		class := egress.ClassifyHost(u.Hostname())
		where := "LLM address is " + string(class)
		if !class.Internal() {
			if !allowExternal {
				where = "LLM address is external; connections are refused unless ollama.allowExternal is set"
			} else {
				where = "LLM address is external and allowed by the admin (ollama.allowExternal): evidence leaves your network"
			}
		}
		var ver struct {
			Version string `json:"version"`
		}
		if err := c.GetJSON(ctx, "/api/version", nil, &ver); err != nil {
			var blocked *egress.BlockedError
			if errors.As(err, &blocked) {
				return Outcome{}, fmt.Errorf("%s", blocked.Error())
			}
			return Outcome{}, err
		}
		var tags struct {
			Models []struct {
				Name  string `json:"name"`
				Model string `json:"model"`
			} `json:"models"`
		}
		if err := c.GetJSON(ctx, "/api/tags", nil, &tags); err != nil {
			return Outcome{Version: ver.Version}, err
		}
		for _, m := range tags.Models {
			if sameModel(m.Name, model) || sameModel(m.Model, model) {
				return Outcome{Version: ver.Version, Note: fmt.Sprintf("model %s present; %s", model, where)}, nil
			}
		}
		return Outcome{Version: ver.Version, Warn: fmt.Sprintf(
			"model %s is not pulled on %s: run `ollama pull %s` on the Ollama host, or set ollama.model to one it has; %s",
			model, c.BaseURL(), model, where)}, nil
	}
}

// sameModel compares Ollama model names, where "phi3" means "phi3:latest".
func sameModel(a, b string) bool {
	norm := func(s string) string {
		if !strings.Contains(s, ":") {
			return s + ":latest"
		}
		return s
	}
	return a != "" && norm(a) == norm(b)
}

// KubernetesProbe reads /version and checks that Flagger's API is served.
//
// Deprecated: use kubernetes.Client.Probe (pkg/systems/kubernetes).
func KubernetesProbe(c *upstream.Client) Probe {
	return func(ctx context.Context) (Outcome, error) {
		var ver struct {
			GitVersion string `json:"gitVersion"`
		}
		if err := c.GetJSON(ctx, "/version", nil, &ver); err != nil {
			return Outcome{}, err
		}
		var group map[string]any
		if err := c.GetJSON(ctx, "/apis/flagger.app/v1beta1", nil, &group); err != nil {
			var ue *upstream.Error
			if errors.As(err, &ue) && ue.Status == 404 {
				return Outcome{Version: ver.GitVersion, Warn: "Flagger's CRDs (flagger.app/v1beta1) are not installed: the Canaries page stays empty until Flagger is deployed"}, nil
			}
			if errors.As(err, &ue) && ue.Status == 403 {
				return Outcome{Version: ver.GitVersion, Warn: "the ServiceAccount may not read flagger.app: apply deploy/'s RBAC for the plugin"}, nil
			}
			return Outcome{Version: ver.GitVersion}, err
		}
		return Outcome{Version: ver.GitVersion, Note: "Flagger API flagger.app/v1beta1 served"}, nil
	}
}

// DisabledProbe reports a dependency that the settings switch off.
func DisabledProbe(why string) Probe {
	return func(context.Context) (Outcome, error) { return Outcome{Disabled: true, Note: why}, nil }
}

// FailedProbe reports a dependency whose client could not be built.
func FailedProbe(err error) Probe {
	return func(context.Context) (Outcome, error) { return Outcome{}, err }
}

// StorageProbe checks that the database directory exists or can be created
// and is writable.
func StorageProbe(dbPath string) Probe {
	return func(context.Context) (Outcome, error) {
		dir := filepath.Dir(dbPath)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return Outcome{}, fmt.Errorf("cannot create %s: %w", dir, err)
		}
		f, err := os.CreateTemp(dir, ".meshwatch-health-*")
		if err != nil {
			return Outcome{}, fmt.Errorf("cannot write in %s: %w", dir, err)
		}
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
		return Outcome{Note: "directory writable"}, nil
	}
}
