package httpjson

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeAndErrors(t *testing.T) {
	type req struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	h := Methods(func(w http.ResponseWriter, r *http.Request) {
		var v req
		if !Decode(w, r, 64, &v) {
			return
		}
		Write(w, http.StatusOK, v)
	}, http.MethodPost)

	cases := []struct {
		method, ct, body string
		status           int
		detail           string
	}{
		{"POST", "application/json", `{"name":"a","n":1}`, 200, ""},
		{"GET", "", "", 405, "POST"},
		{"POST", "text/plain", `{}`, 415, "application/json"},
		{"POST", "application/json", ``, 400, "empty"},
		{"POST", "application/json", `{"name":`, 400, "ends in the middle"},
		{"POST", "application/json", `{"name":1}`, 400, `"name"`},
		{"POST", "application/json", `{"other":1}`, 400, "unknown field"},
		{"POST", "application/json", `{} {}`, 400, "after the JSON value"},
		{"POST", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "64 bytes"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/x", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != c.status {
			t.Errorf("%s %q: status %d, want %d (%s)", c.method, c.body, w.Code, c.status, w.Body)
			continue
		}
		if c.status != 200 {
			var e ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || !strings.Contains(e.Detail, c.detail) {
				t.Errorf("%s %q: body %s, want detail containing %q", c.method, c.body, w.Body, c.detail)
			}
		}
	}
}

// Grafana's resource adapter passes an empty body as a nil r.Body: a 400,
// not a panic.
func TestDecodeNilBody(t *testing.T) {
	for _, body := range []func(*http.Request){
		func(r *http.Request) { r.Body = nil },
		func(r *http.Request) { r.Body = http.NoBody },
	} {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		body(r)
		w := httptest.NewRecorder()
		var v map[string]any
		if Decode(w, r, 64, &v) {
			t.Fatal("an empty body decoded")
		}
		var e ErrorBody
		if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Detail, "empty") {
			t.Errorf("empty body: %d %s", w.Code, w.Body.String())
		}
	}
}
