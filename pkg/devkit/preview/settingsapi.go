package preview

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// pluginSettingDTO is Grafana's answer to GET /api/plugins/<id>/settings
// (dtos.PluginSetting): the plugin's metadata and the org's settings for it,
// secrets only as booleans.
type pluginSettingDTO struct {
	Name             string          `json:"name"`
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Enabled          bool            `json:"enabled"`
	Pinned           bool            `json:"pinned"`
	AutoEnabled      bool            `json:"autoEnabled"`
	Module           string          `json:"module"`
	BaseURL          string          `json:"baseUrl"`
	Info             map[string]any  `json:"info"`
	Includes         json.RawMessage `json:"includes"`
	Dependencies     json.RawMessage `json:"dependencies"`
	JSONData         map[string]any  `json:"jsonData"`
	SecureJSONFields map[string]bool `json:"secureJsonFields"`
	DefaultNavURL    string          `json:"defaultNavUrl"`
	LatestVersion    string          `json:"latestVersion"`
	HasUpdate        bool            `json:"hasUpdate"`
	State            string          `json:"state"`
	Signature        string          `json:"signature"`
	SignatureType    string          `json:"signatureType"`
	SignatureOrg     string          `json:"signatureOrg"`
	AngularDetected  bool            `json:"angularDetected"`
	LoadingStrategy  string          `json:"loadingStrategy"`
	Extensions       json.RawMessage `json:"extensions"`
	ModuleHash       string          `json:"moduleHash"`
}

func (s *Server) settingsDTO() pluginSettingDTO {
	st := s.store.snapshot()
	return pluginSettingDTO{
		Name: s.meta.Name, Type: s.meta.Type, ID: s.meta.ID,
		Enabled: st.Enabled, Pinned: st.Pinned, AutoEnabled: s.meta.AutoEnable,
		Module:  path.Join(s.meta.baseURL(), "module.js"),
		BaseURL: s.meta.baseURL(),
		Info:    s.meta.info(), Includes: s.meta.rawField("includes"), Dependencies: s.meta.rawField("dependencies"),
		JSONData: st.JSONData, SecureJSONFields: st.secureJSONFields(),
		DefaultNavURL:   s.meta.defaultNavURL(),
		Signature:       "unsigned",
		LoadingStrategy: "script",
		Extensions:      s.meta.rawField("extensions"),
	}
}

// handleSettings is GET and POST /api/plugins/<id>/settings.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	u := userOf(r, s.defaultRole)
	switch r.Method {
	case http.MethodGet:
		// Every org role has plugins.app:access to an app by default.
		writeJSON(w, http.StatusOK, s.settingsDTO())
	case http.MethodPost:
		// Grafana guards this route with plugins:write, which only Admin has
		// by default.
		if !u.Role.atLeast(Admin) {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"title":   "Access denied",
				"message": "You'll need additional permissions to perform this action. Permissions needed: plugins:write",
			})
			return
		}
		var cmd updateCmd
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		if err := dec.Decode(&cmd); err != nil {
			grafanaError(w, http.StatusBadRequest, "bad request data")
			return
		}
		if s.meta.AutoEnable && !cmd.Enabled {
			grafanaError(w, http.StatusBadRequest, "Cannot disable auto-enabled plugin")
			return
		}
		if _, err := s.store.update(cmd); err != nil {
			s.log.Error("saving plugin settings failed", "error", err.Error())
			grafanaError(w, http.StatusInternalServerError, "Failed to update plugin setting")
			return
		}
		keys := make([]string, 0, len(cmd.SecureJSONData))
		for k := range cmd.SecureJSONData {
			keys = append(keys, k)
		}
		// Secret names only, never values.
		s.log.Info("plugin settings saved", "by", u.Login, "enabled", cmd.Enabled, "secureKeysSent", keys)
		writeJSON(w, http.StatusOK, map[string]string{"message": "Plugin settings updated"})
	default:
		w.Header().Set("Allow", "GET, POST")
		grafanaError(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// handleHealth is GET /api/plugins/<id>/health: CheckHealth, answered as
// Grafana does: 200 with status OK, else 503, with message and details.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		grafanaError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	u := userOf(r, s.defaultRole)
	res, err := s.backend.CheckHealth(r.Context(), s.pluginContext(u))
	if err != nil {
		s.log.Error("health check failed", "error", err.Error())
		if errors.Is(err, errPluginUnavailable) {
			grafanaError(w, http.StatusServiceUnavailable, "Plugin unavailable")
			return
		}
		grafanaError(w, http.StatusInternalServerError, "Plugin health check failed")
		return
	}
	payload := map[string]any{"status": res.Status.String(), "message": res.Message}
	if len(res.JSONDetails) > 0 {
		var details any
		if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
			grafanaError(w, http.StatusInternalServerError, "Failed to unmarshal detailed response from backend plugin")
			return
		}
		payload["details"] = details
	}
	status := http.StatusOK
	if res.Status != backend.HealthStatusOk {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, payload)
}
