// Package contractfake serves the documented HTTP answers of systems that
// cannot run on the test machines — Tempo and an Ollama model — so clients are
// tested against their wire format. They are fakes, and are named so
// everywhere; Prometheus, Alertmanager, Loki and the Kubernetes API are always
// tested against the real servers (pkg/harness).
package contractfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
)

// Owner stops a fake when it is done: a *testing.T, or a harness.Session in
// programs (the preview host's --stack).
type Owner interface {
	Helper()
	Cleanup(func())
}

// Tempo is a fake of Tempo's HTTP API: GET /api/status/buildinfo (as
// documented for Tempo 2.x: version, revision, branch, buildDate, goVersion).
// TempoWithTraces (temposearch.go) adds trace search and trace by id.
func Tempo(t Owner, version string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(tempoMux(version))
	t.Cleanup(srv.Close)
	return srv
}

func tempoMux(version string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"version": version, "revision": "fake", "branch": "HEAD",
			"buildUser": "", "buildDate": "", "goVersion": "go1.26"})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ready")) })
	return mux
}

// Ollama is a fake of Ollama's HTTP API (github.com/ollama/ollama/api):
// GET /api/version and GET /api/tags listing models.
func Ollama(t Owner, version string, models ...string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"version": version})
	})
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, _ *http.Request) {
		type details struct {
			Format            string `json:"format"`
			Family            string `json:"family"`
			ParameterSize     string `json:"parameter_size"`
			QuantizationLevel string `json:"quantization_level"`
		}
		type model struct {
			Name       string  `json:"name"`
			Model      string  `json:"model"`
			ModifiedAt string  `json:"modified_at"`
			Size       int64   `json:"size"`
			Digest     string  `json:"digest"`
			Details    details `json:"details"`
		}
		out := struct {
			Models []model `json:"models"`
		}{Models: []model{}}
		for _, m := range models {
			out.Models = append(out.Models, model{Name: m, Model: m, ModifiedAt: "2026-11-01T00:00:00Z", Size: 2176178913,
				Digest: "fake", Details: details{Format: "gguf", Family: "phi3", ParameterSize: "3.8B", QuantizationLevel: "Q4_0"}})
		}
		writeJSON(w, out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
