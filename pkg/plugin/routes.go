package plugin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// registerRoutes maps the resource API
// (/api/plugins/meshwatch-mesh-app/resources/...).
func (a *App) registerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/ping", httpjson.Methods(a.handlePing, http.MethodGet))
	mux.HandleFunc("/settings", httpjson.Methods(a.handleSettings, http.MethodGet))
	mux.HandleFunc("/settings/validate", httpjson.Methods(a.handleValidate, http.MethodPost))
	mux.HandleFunc("/", httpjson.NotFound)
}

func (a *App) handlePing(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "version": a.version})
}

// settingsView is GET /settings: the effective settings (defaults applied,
// secrets only as configured/not) and what is wrong with them.
type settingsView struct {
	settings.Public
	Errors settings.Errors `json:"errors"`
}

func (a *App) handleSettings(w http.ResponseWriter, _ *http.Request) {
	view := settingsView{Public: a.settings.Public(), Errors: settings.Errors{}}
	var errs settings.Errors
	if errors.As(a.settingsErr, &errs) {
		view.Errors = errs
	}
	httpjson.Write(w, http.StatusOK, view)
}

// validateRequest is what the config page sends before saving: the jsonData
// it would save and which secrets are (or will be) set.
type validateRequest struct {
	JSONData         map[string]any  `json:"jsonData"`
	SecureJSONFields map[string]bool `json:"secureJsonFields"`
}

type validateResponse struct {
	Valid  bool            `json:"valid"`
	Errors settings.Errors `json:"errors"`
}

func (a *App) handleValidate(w http.ResponseWriter, r *http.Request) {
	var req validateRequest
	if !httpjson.Decode(w, r, 256<<10, &req) {
		return
	}
	raw, err := json.Marshal(req.JSONData)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "malformed jsonData", err.Error())
		return
	}
	secure := map[string]string{}
	for k, set := range req.SecureJSONFields {
		if set {
			secure[k] = "configured"
		}
	}
	resp := validateResponse{Valid: true, Errors: settings.Errors{}}
	if _, err := settings.Load(raw, secure); err != nil {
		resp.Valid = false
		if !errors.As(err, &resp.Errors) {
			resp.Errors = settings.Errors{{Field: "jsonData", Message: err.Error()}}
		}
	}
	httpjson.Write(w, http.StatusOK, resp)
}
