package preview

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// bootDataMarker is replaced in the host page's index.html by the boot data,
// as Grafana's index.html sets window.grafanaBootData before any script runs.
const bootDataMarker = "__MESHWATCH_PREVIEW_BOOT_DATA__"

// pluginFiles serves dist/ the way Grafana serves a plugin's directory:
// files only, no listings, and never the backend executables.
func pluginFiles(dist string) http.Handler {
	fs := http.FileServer(http.Dir(dist))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := filepath.Base(r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasPrefix(base, "gpx_") ||
			base == "go_plugin_build_manifest" || strings.HasPrefix(base, ".") {
			grafanaError(w, http.StatusNotFound, "Plugin file not found")
			return
		}
		if info, err := os.Stat(filepath.Join(dist, filepath.FromSlash(r.URL.Path))); err != nil || info.IsDir() {
			grafanaError(w, http.StatusNotFound, "Plugin file not found")
			return
		}
		w.Header().Set("Cache-Control", "max-age=0, must-revalidate, no-cache")
		fs.ServeHTTP(w, r)
	})
}

// staticFiles serves a subdirectory of the built host page, files only.
func staticFiles(hostDir, sub string) http.Handler {
	root := filepath.Join(hostDir, sub)
	fs := http.FileServer(http.Dir(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(r.URL.Path)))
		if err != nil || info.IsDir() || filepath.Base(r.URL.Path) == "index.html" {
			http.NotFound(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	})
}

// handleIndex serves the host page for every other GET: the host routes
// /, /a/<id>/*, /plugins/<id> and /preview/panel itself, and shows "not
// found" for the rest, like a single-page app.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	page, err := os.ReadFile(filepath.Join(s.hostDir, "index.html"))
	if err != nil {
		http.Error(w, "the host page is not built: run npm run preview:build", http.StatusInternalServerError)
		return
	}
	boot, err := json.Marshal(s.bootData(userOf(r, s.defaultRole), themeOf(r)))
	if err != nil {
		http.Error(w, "boot data could not be encoded", http.StatusInternalServerError)
		return
	}
	// A browser that has not picked a role is signed in as the default one,
	// in a cookie: the session Grafana's APIs (the datasource proxy) check.
	if c, err := r.Cookie(RoleCookie); err != nil || !validRole(c.Value) {
		http.SetCookie(w, &http.Cookie{Name: RoleCookie, Value: string(s.defaultRole), Path: "/",
			MaxAge: 31536000, SameSite: http.SameSiteStrictMode})
	}
	// json.Marshal escapes <, > and &, so the data cannot end the script.
	page = bytes.Replace(page, []byte(bootDataMarker), boot, 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(page)
}

// previewDatasourceUID is the one Prometheus datasource the host page
// pretends to have, for the panel stand-in's targets.
const previewDatasourceUID = "preview-prometheus"

// bootData is window.grafanaBootData: the signed-in user, the settings the
// @grafana/runtime config reads, and what the host page needs about the
// plugin (its built plugin.json).
func (s *Server) bootData(u user, theme string) map[string]any {
	perms := map[string]bool{"plugins.app:access": true, "plugins:read": true}
	if u.Role.atLeast(Admin) {
		perms["plugins:write"] = true
	}
	st := s.store.snapshot()
	// The datasources the host plays; with none, the panel stand-in's
	// placeholder Prometheus (not queryable), as before there were any.
	dsByName := map[string]any{}
	defaultDS := ""
	for _, ds := range s.datasources {
		dsByName[ds.Name] = ds.frontendSettings()
		if ds.IsDefault {
			defaultDS = ds.Name
		}
	}
	if len(s.datasources) == 0 {
		defaultDS = "Prometheus (preview)"
		dsByName[defaultDS] = map[string]any{
			"id": 1, "uid": previewDatasourceUID, "type": "prometheus", "name": defaultDS,
			"meta": map[string]any{"id": "prometheus", "type": "datasource", "name": "Prometheus",
				"info": map[string]any{"logos": map[string]any{"small": "", "large": ""}}},
			"isDefault": true, "access": "proxy", "readOnly": true, "jsonData": map[string]any{},
		}
	}
	return map[string]any{
		"user": map[string]any{
			"isSignedIn": true, "id": u.ID, "uid": u.Login, "login": u.Login, "email": u.Email, "name": u.Name,
			"orgId": 1, "orgName": "Main Org.", "orgRole": string(u.Role), "orgCount": 1,
			"isGrafanaAdmin": u.Role == Admin, "theme": theme, "timezone": "utc", "weekStart": "monday",
			"locale": "en-US", "language": "en-US", "regionalFormat": "en-US", "helpFlags1": 0,
			"hasEditPermissionInFolders": u.Role.atLeast(Editor), "permissions": perms,
			"gravatarUrl": "", "analytics": map[string]any{},
		},
		"settings": map[string]any{
			"appUrl": s.appURL, "appSubUrl": "", "appTitle": "MeshWatch preview host — not Grafana",
			"buildInfo": map[string]any{"version": grafanaVersion, "edition": "Preview host (not Grafana)",
				"env": "production", "commit": "", "buildstamp": 0, "hasUpdate": false, "latestVersion": ""},
			"featureToggles":    map[string]bool{},
			"defaultDatasource": defaultDS,
			"datasources":       dsByName,
			"apps": map[string]any{s.meta.ID: map[string]any{
				"id": s.meta.ID, "path": s.meta.baseURL() + "/module.js", "version": s.meta.Info.Version,
				"preload": s.meta.Preload, "loadingStrategy": "script", "angular": map[string]any{"detected": false},
				"extensions": s.meta.rawField("extensions"), "dependencies": s.meta.rawField("dependencies"),
				"moduleHash": "",
			}},
			"panels":                 map[string]any{},
			"unifiedAlertingEnabled": false, "liveEnabled": true, "anonymousEnabled": false,
			"datemathParserCommonTimezones": []string{},
		},
		"navTree": []any{},
		"assets":  map[string]string{"dark": "", "light": ""},
		"preview": map[string]any{
			"pluginId": s.meta.ID, "plugin": s.meta.raw, "enabled": st.Enabled,
			"datasourceUid": previewDatasourceUID, "grafanaVersion": grafanaVersion,
		},
	}
}

func validRole(s string) bool {
	_, ok := parseRole(s)
	return ok
}
