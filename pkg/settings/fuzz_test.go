package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Markers the fuzz properties look for: secretMarker starts every secret in
// secureJsonData, and seeds put passwordMarker into URL passwords.
const (
	secretMarker   = "Zq9Secret"
	passwordMarker = "Pw9Q"
)

// FuzzLoad checks the settings parser on arbitrary jsonData and secrets
// (the seeds in testdata/fuzz/FuzzLoad run in every go test):
//   - Load never panics, and its error is nil or an Errors;
//   - every error names a field, has a message, and both are length-capped;
//   - no error and no byte of the Public view carries a secret from
//     secureJsonData or a URL password, unless jsonData itself shows that
//     text somewhere the browser view legitimately repeats (a key, a tenant
//     id, the host of a URL, …).
//
// which selects the secure keys that are set (bit i: SecureKeys[i]).
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, jsonData []byte, secret string, which uint8) {
		secure := map[string]string{}
		for i, k := range SecureKeys {
			if which&(1<<i) != 0 {
				secure[k] = secretMarker + secret
			}
		}
		s, err := Load(jsonData, secure)
		var errs Errors
		if err != nil && !errors.As(err, &errs) {
			t.Fatalf("error is %T, not Errors: %v", err, err)
		}
		if err != nil && len(errs) == 0 {
			t.Fatal("non-nil error without field errors")
		}
		if len(errs) > 400 {
			t.Errorf("%d errors: the report must stay bounded", len(errs))
		}
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Errorf("error without a field or message: %#v", e)
			}
			if len(e.Message) > 2*MaxShown+400 || len(e.Field) > 300 {
				t.Errorf("error too long (field %d bytes, message %d bytes): %.200s", len(e.Field), len(e.Message), e.Error())
			}
		}
		public, merr := json.Marshal(s.Public())
		if merr != nil {
			t.Fatalf("public view does not marshal: %v", merr)
		}
		shown := string(public) + "\n" + errs.Error()
		exposed := exposedText(jsonData)
		for _, marker := range []string{secretMarker, passwordMarker} {
			if strings.Contains(shown, marker) && !strings.Contains(exposed, marker) {
				t.Fatalf("%s leaked:\npublic %s\nerrors %v", marker, public, errs)
			}
		}
	})
}

// exposedText is every text of jsonData (its first JSON value, as Load reads
// it) that the browser view or a message may legitimately repeat: keys, and
// string values, except that in values under a "url" key the user-info (from
// "scheme://" to the last '@') and the query are left out.
func exposedText(jsonData []byte) string {
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				b.WriteString(k + "\n")
				walk(k, e)
			}
		case []any:
			for _, e := range v {
				walk(key, e)
			}
		case string:
			if strings.EqualFold(key, "url") || strings.HasSuffix(strings.ToLower(key), ".url") {
				v = withoutUserinfo(v)
			}
			b.WriteString(v + "\n")
		}
	}
	walk("", v)
	return b.String()
}

// withoutUserinfo drops what lies between "scheme://" (or the start) and
// the last '@', and what follows a '?' or '#' after it.
func withoutUserinfo(u string) string {
	start := 0
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	}
	if at := strings.LastIndex(u, "@"); at >= start {
		u = u[:start] + u[at:]
	}
	if i := strings.IndexAny(u[start:], "?#"); i >= 0 {
		u = u[:start+i]
	}
	return u
}
