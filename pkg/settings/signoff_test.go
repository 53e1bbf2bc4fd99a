package settings

import (
	"errors"
	"testing"
)

func TestSignOffRole(t *testing.T) {
	s, err := Load([]byte(`{}`), nil)
	if err != nil || s.SignOff.Role != "Editor" {
		t.Fatalf("default sign-off role %q (%v), want Editor", s.SignOff.Role, err)
	}
	s, err = Load([]byte(`{"signOff":{"role":"Admin"}}`), nil)
	if err != nil || s.SignOff.Role != "Admin" {
		t.Errorf("signOff.role Admin: %q %v", s.SignOff.Role, err)
	}
	for _, bad := range []string{`{"signOff":{"role":"Viewer"}}`, `{"signOff":{"role":"admin "}}`, `{"signOff":{"role":3}}`, `{"signOff":{"who":"x"}}`} {
		_, err := Load([]byte(bad), nil)
		var errs Errors
		if !errors.As(err, &errs) || !errs.Has("signOff") {
			t.Errorf("%s: err = %v, want a signOff field error", bad, err)
		}
	}
}
