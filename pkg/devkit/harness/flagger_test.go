package harness_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// gate POSTs {"name","namespace"} to the load tester's path and returns the
// status code.
func gate(t *testing.T, base, path, ns string) int {
	t.Helper()
	body := []byte(`{"name":"checkout","namespace":"` + ns + `"}`)
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The real load tester's gates: closed by default, open and close answer
// 202, the namespace regexp refuses other namespaces, and a restart forgets
// an open gate (what MeshWatch re-applies).
func TestLoadTesterGatesForgetOnRestart(t *testing.T) {
	lt := harness.StartLoadTester(t, harness.LoadTesterOptions{NamespaceRegexp: "^shop$"})
	steps := []struct {
		path, ns string
		want     int
	}{
		{"/gate/check", "shop", http.StatusForbidden},
		{"/gate/open", "shop", http.StatusAccepted},
		{"/gate/check", "shop", http.StatusOK},
		{"/rollback/check", "shop", http.StatusForbidden},
		{"/gate/open", "other", http.StatusForbidden},
		{"/gate/check", "other", http.StatusForbidden},
	}
	for _, s := range steps {
		if got := gate(t, lt.URL, s.path, s.ns); got != s.want {
			t.Fatalf("%s in %s: HTTP %d, want %d", s.path, s.ns, got, s.want)
		}
	}
	url := lt.URL
	lt.Restart()
	if lt.URL != url {
		t.Fatalf("the load tester moved from %s to %s on restart", url, lt.URL)
	}
	if got := gate(t, lt.URL, "/gate/check", "shop"); got != http.StatusForbidden {
		t.Fatalf("after a restart the gate answers %d, want 403 (forgotten)", got)
	}
}
