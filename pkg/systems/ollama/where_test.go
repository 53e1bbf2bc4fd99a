package ollama

import (
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/settings"
)

// The health line says where the LLM sits as the egress guard sees it:
// link-local counts as external, a metadata service is never allowed.
func TestWhereNote(t *testing.T) {
	cases := []struct {
		url           string
		allowExternal bool
		want          string
	}{
		{"http://100.101.102.103:11434", false, "tailnet"},
		{"http://ollama.monitoring.svc:11434", false, "cluster-local"},
		{"http://169.254.10.20:11434", false, "link-local; connections are refused unless ollama.allowExternal"},
		{"http://169.254.10.20:11434", true, "link-local and allowed by the admin"},
		{"http://169.254.169.254", true, "cloud metadata service; connections to it are always refused"},
		{"http://8.8.8.8:11434", false, "external; connections are refused"},
		{"http://8.8.8.8:11434", true, "external and allowed by the admin"},
	}
	for _, c := range cases {
		cfg := settings.Defaults().Ollama
		cfg.URL, cfg.AllowExternal = c.url, c.allowExternal
		cl, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if got := cl.whereNote(); !strings.Contains(got, c.want) {
			t.Errorf("%s (allowExternal %v): %q, want it to say %q", c.url, c.allowExternal, got, c.want)
		}
	}
}
