package access

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequire(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	cases := []struct {
		user *User
		min  Role
		want int
	}{
		{nil, Viewer, http.StatusUnauthorized},
		{&User{Login: "v", Role: Viewer}, Viewer, http.StatusNoContent},
		{&User{Login: "v", Role: Viewer}, Editor, http.StatusForbidden},
		{&User{Login: "e", Role: Editor}, Admin, http.StatusForbidden},
		{&User{Login: "a", Role: Admin}, Admin, http.StatusNoContent},
		{&User{Login: "a", Role: Admin}, Viewer, http.StatusNoContent},
		{&User{Login: "n", Role: None}, Viewer, http.StatusForbidden},
		{&User{Login: "x", Role: ""}, Viewer, http.StatusForbidden},
		{&User{Login: "x", Role: "Superuser"}, Viewer, http.StatusForbidden},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/settings", nil)
		req = req.WithContext(WithUser(req.Context(), c.user))
		Require(c.min, ok)(rec, req)
		if rec.Code != c.want {
			t.Errorf("%+v needing %s: status %d, want %d", c.user, c.min, rec.Code, c.want)
		}
		if rec.Code >= 400 {
			var body struct{ Error, Detail string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" || body.Detail == "" {
				t.Errorf("error body %q is not the error shape", rec.Body.String())
			}
		}
	}
}
