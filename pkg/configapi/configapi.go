// Package configapi is the settings capability of the resource API: the
// effective settings for admins (GET /settings), validation of what the
// configuration page is about to save (POST /settings/validate), and a ping.
package configapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/httpjson"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// maxValidateBody caps POST /settings/validate.
const maxValidateBody = 256 << 10

// SettingsView is GET /settings: the effective settings (defaults applied,
// URLs without user-info, secrets only as configured/not) and what is wrong
// with them.
type SettingsView struct {
	settings.Public `tstype:",extends"`
	Errors          settings.Errors `json:"errors"`
}

// ValidateRequest is what the config page sends before saving: the jsonData
// it would save and which secrets are (or will be) set.
type ValidateRequest struct {
	JSONData         map[string]any  `json:"jsonData"`
	SecureJSONFields map[string]bool `json:"secureJsonFields"`
}

// ValidateResponse says whether that configuration is valid, field by field.
type ValidateResponse struct {
	Valid  bool            `json:"valid"`
	Errors settings.Errors `json:"errors"`
}

type api struct {
	cfg     settings.Settings
	loadErr error
	version string
}

// Register adds the routes: GET /ping (anyone), GET /settings and
// POST /settings/validate (org Admins: the settings name every internal
// address, tenant and path, and only admins may change them).
func Register(reg *capability.Registry, cfg settings.Settings, loadErr error, version string) {
	a := api{cfg: cfg, loadErr: loadErr, version: version}
	reg.Route("/ping", a.ping, http.MethodGet)
	reg.Route("/settings", access.Require(access.Admin, a.settings), http.MethodGet)
	reg.Route("/settings/validate", access.Require(access.Admin, a.validate), http.MethodPost)
}

func (a api) ping(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "version": a.version})
}

func (a api) settings(w http.ResponseWriter, _ *http.Request) {
	view := SettingsView{Public: a.cfg.Public(), Errors: settings.Errors{}}
	var errs settings.Errors
	if errors.As(a.loadErr, &errs) {
		view.Errors = errs
	}
	httpjson.Write(w, http.StatusOK, view)
}

func (a api) validate(w http.ResponseWriter, r *http.Request) {
	var req ValidateRequest
	if !httpjson.Decode(w, r, maxValidateBody, &req) {
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
	resp := ValidateResponse{Valid: true, Errors: settings.Errors{}}
	if _, err := settings.Load(raw, secure); err != nil {
		resp.Valid = false
		if !errors.As(err, &resp.Errors) {
			resp.Errors = settings.Errors{{Field: "jsonData", Message: err.Error()}}
		}
	}
	httpjson.Write(w, http.StatusOK, resp)
}
