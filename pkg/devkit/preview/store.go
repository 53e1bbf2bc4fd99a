package preview

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// appState is what Grafana keeps per org for an app plugin (its plugin
// settings row): enabled, pinned, jsonData and the secrets. The preview host
// keeps the secrets decrypted in a 0600 file; Grafana encrypts them in its
// database.
type appState struct {
	Enabled        bool              `json:"enabled"`
	Pinned         bool              `json:"pinned"`
	JSONData       map[string]any    `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData"`
	Updated        time.Time         `json:"updated"`
}

// clone returns a deep copy, so callers never share maps with the store.
func (s appState) clone() appState {
	out := s
	out.JSONData = cloneJSON(s.JSONData)
	out.SecureJSONData = maps.Clone(s.SecureJSONData)
	return out
}

// secureJSONFields is what Grafana tells the browser about the secrets: which
// keys hold a non-empty value. Never the values.
func (s appState) secureJSONFields() map[string]bool {
	out := map[string]bool{}
	for k, v := range s.SecureJSONData {
		if v != "" {
			out[k] = true
		}
	}
	return out
}

func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return maps.Clone(m)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return maps.Clone(m)
	}
	return out
}

// updateCmd is the body of POST /api/plugins/<id>/settings, as Grafana reads
// it (UpdatePluginSettingCmd).
type updateCmd struct {
	Enabled        bool              `json:"enabled"`
	Pinned         bool              `json:"pinned"`
	JSONData       map[string]any    `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData"`
	PluginVersion  string            `json:"pluginVersion"`
}

// store holds the app's settings and persists them to a file.
type store struct {
	mu    sync.Mutex
	path  string // "" keeps the settings in memory only
	state appState
}

// openStore loads the settings file when it exists, else starts from seed
// (the provisioned settings). It reports which it used.
func openStore(path string, seed appState) (*store, bool, error) {
	s := &store{path: path}
	if path != "" {
		raw, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
		switch {
		case err == nil:
			var st appState
			if err := json.Unmarshal(raw, &st); err != nil {
				return nil, false, fmt.Errorf("settings file %s: %w (delete it to start from provisioning)", path, err)
			}
			if st.SecureJSONData == nil {
				st.SecureJSONData = map[string]string{}
			}
			st.Updated = nextUpdated(st.Updated)
			s.state = st
			return s, true, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, false, err
		}
	}
	seed = seed.clone()
	if seed.SecureJSONData == nil {
		seed.SecureJSONData = map[string]string{}
	}
	seed.Updated = nextUpdated(time.Time{})
	s.state = seed
	return s, false, nil
}

// snapshot returns a copy of the current settings.
func (s *store) snapshot() appState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.clone()
}

// applyOverrides changes jsonData in memory (the --set flags). They are not
// written to the file until the next save.
func (s *store) applyOverrides(ovs []override) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.JSONData == nil && len(ovs) > 0 {
		s.state.JSONData = map[string]any{}
	}
	for _, o := range ovs {
		o.apply(s.state.JSONData)
	}
}

// update applies a settings POST the way Grafana does: enabled, pinned and
// jsonData are replaced; each secret that is sent overwrites the stored one
// (an empty string clears it), secrets not sent are kept; Updated moves
// forward so the plugin builds a new instance. The file is written before the
// new state is visible.
func (s *store) update(cmd updateCmd) (appState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.state.clone()
	next.Enabled = cmd.Enabled
	next.Pinned = cmd.Pinned
	next.JSONData = cloneJSON(cmd.JSONData)
	if next.SecureJSONData == nil {
		next.SecureJSONData = map[string]string{}
	}
	maps.Copy(next.SecureJSONData, cmd.SecureJSONData)
	next.Updated = nextUpdated(s.state.Updated)
	if err := s.persist(next); err != nil {
		return appState{}, err
	}
	s.state = next
	return next.clone(), nil
}

// persist writes the state atomically with mode 0600 (it holds secrets).
func (s *store) persist(st appState) error {
	if s.path == "" {
		return nil
	}
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".preview-settings-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// nextUpdated is now (millisecond precision, as the protocol carries it), but
// always later than prev, so every save is seen as a change.
func nextUpdated(prev time.Time) time.Time {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(prev) {
		now = prev.Add(time.Millisecond)
	}
	return now
}
