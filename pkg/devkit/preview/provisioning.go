package preview

import (
	"errors"
	"fmt"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// provisionedApp is one entry of a Grafana app provisioning file
// (provisioning/plugins/*.yaml), the fields the preview host uses.
type provisionedApp struct {
	Type           string            `yaml:"type"`
	OrgID          int64             `yaml:"org_id"`
	Disabled       bool              `yaml:"disabled"`
	JSONData       map[string]any    `yaml:"jsonData"`
	SecureJSONData map[string]string `yaml:"secureJsonData"`
}

type provisioningFile struct {
	APIVersion int              `yaml:"apiVersion"`
	Apps       []provisionedApp `yaml:"apps"`
}

// errNotProvisioned means the file has no entry for the plugin.
var errNotProvisioned = errors.New("no provisioned app entry")

// loadProvisioning reads the app entry for pluginID from a Grafana app
// provisioning file, after Grafana's environment interpolation ($VAR and
// ${VAR}; $$ is a literal $). getenv is os.Getenv outside tests.
func loadProvisioning(path, pluginID string, getenv func(string) string) (provisionedApp, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return provisionedApp{}, err
	}
	var f provisioningFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return provisionedApp{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, app := range f.Apps {
		if app.Type != pluginID {
			continue
		}
		jd, ok := interpolateAny(app.JSONData, getenv).(map[string]any)
		if !ok || jd == nil {
			jd = map[string]any{}
		}
		app.JSONData = jd
		secure := map[string]string{}
		for k, v := range app.SecureJSONData {
			secure[k] = interpolate(v, getenv)
		}
		app.SecureJSONData = secure
		return app, nil
	}
	return provisionedApp{}, fmt.Errorf("%s: %w for %s", path, errNotProvisioned, pluginID)
}

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands $VAR, ${VAR} and $$ the way Grafana's provisioning does.
func interpolate(s string, getenv func(string) string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := envRef.FindStringSubmatch(m)
		name := sub[1]
		if name == "" {
			name = sub[2]
		}
		return getenv(name)
	})
}

// interpolateAny walks YAML-decoded values and interpolates every string.
func interpolateAny(v any, getenv func(string) string) any {
	switch t := v.(type) {
	case string:
		return interpolate(t, getenv)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = interpolateAny(e, getenv)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = interpolateAny(e, getenv)
		}
		return out
	default:
		return v
	}
}
