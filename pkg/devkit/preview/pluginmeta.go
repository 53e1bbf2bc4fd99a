package preview

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// pluginMeta is the built plugin.json (dist/plugin.json, after the build
// replaced %VERSION% and %PLUGIN_ID%), with the raw parts the settings
// endpoint and the host page pass on unchanged.
type pluginMeta struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Backend    bool   `json:"backend"`
	Executable string `json:"executable"`
	AutoEnable bool   `json:"autoEnabled"`
	Preload    bool   `json:"preload"`
	Info       struct {
		Version string `json:"version"`
	} `json:"info"`
	Includes []struct {
		Type       string `json:"type"`
		Name       string `json:"name"`
		Path       string `json:"path"`
		Role       string `json:"role"`
		Action     string `json:"action"`
		AddToNav   bool   `json:"addToNav"`
		DefaultNav bool   `json:"defaultNav"`
		Icon       string `json:"icon"`
	} `json:"includes"`

	raw map[string]json.RawMessage
}

// readPluginMeta reads dist/plugin.json.
func readPluginMeta(dist string) (pluginMeta, error) {
	file := filepath.Join(dist, "plugin.json")
	raw, err := os.ReadFile(file) // #nosec G304 -- the operator names dist
	if err != nil {
		return pluginMeta{}, fmt.Errorf("%w (build the frontend first: npm run build)", err)
	}
	var m pluginMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return pluginMeta{}, fmt.Errorf("%s: %w", file, err)
	}
	if err := json.Unmarshal(raw, &m.raw); err != nil {
		return pluginMeta{}, fmt.Errorf("%s: %w", file, err)
	}
	if m.ID == "" || m.Type != "app" {
		return pluginMeta{}, fmt.Errorf("%s: want an app plugin with an id, got id=%q type=%q", file, m.ID, m.Type)
	}
	if strings.Contains(string(raw), "%PLUGIN_ID%") || strings.Contains(string(raw), "%VERSION%") {
		return pluginMeta{}, fmt.Errorf("%s still has build placeholders: is it the source plugin.json rather than the built one?", file)
	}
	return m, nil
}

// executablePath is dist/<executable>_<os>_<arch>[.exe], where Grafana looks
// for the backend.
func (m pluginMeta) executablePath(dist string) (string, error) {
	if !m.Backend || m.Executable == "" {
		return "", errors.New("plugin.json declares no backend executable")
	}
	name := fmt.Sprintf("%s_%s_%s", m.Executable, runtime.GOOS, runtime.GOARCH)
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	exe := filepath.Join(dist, name)
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("%w (build the backend first: go build -o %s ./pkg, or mage build:linux)", err, exe)
	}
	return exe, nil
}

// baseURL is where Grafana serves the plugin's files.
func (m pluginMeta) baseURL() string { return "public/plugins/" + m.ID }

// defaultNavURL is the page include marked defaultNav, as Grafana computes it.
func (m pluginMeta) defaultNavURL() string {
	for _, inc := range m.Includes {
		if inc.Type == "page" && inc.DefaultNav && inc.Path != "" {
			return inc.Path
		}
	}
	return "/plugins/" + m.ID + "/"
}

// rawField returns a field of plugin.json as JSON (null when absent).
func (m pluginMeta) rawField(name string) json.RawMessage {
	if v, ok := m.raw[name]; ok {
		return v
	}
	return json.RawMessage("null")
}

// info is plugin.json's info with logo and screenshot paths made absolute
// under the plugin's base URL, as Grafana returns them.
func (m pluginMeta) info() map[string]any {
	var info map[string]any
	if err := json.Unmarshal(m.rawField("info"), &info); err != nil || info == nil {
		return map[string]any{}
	}
	fix := func(p string) string {
		if p == "" || strings.HasPrefix(p, "http") || strings.HasPrefix(p, "public/") {
			return p
		}
		return path.Join(m.baseURL(), p)
	}
	if logos, ok := info["logos"].(map[string]any); ok {
		for k, v := range logos {
			if s, ok := v.(string); ok {
				logos[k] = fix(s)
			}
		}
	}
	if shots, ok := info["screenshots"].([]any); ok {
		for _, s := range shots {
			if sm, ok := s.(map[string]any); ok {
				if p, ok := sm["path"].(string); ok {
					sm["path"] = fix(p)
				}
			}
		}
	}
	return info
}
