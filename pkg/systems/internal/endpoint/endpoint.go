// Package endpoint builds the upstream client of a system reached over
// HTTP from its settings.Endpoint, the same way for every system package.
package endpoint

import (
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Client is the upstream client for the system called name at s, with any
// extra settings (the egress dialer) applied to the config first.
func Client(name string, s settings.Endpoint, extra ...func(*upstream.Config)) (*upstream.Client, error) {
	cfg := upstream.Config{
		Name: name, BaseURL: s.URL, Authorization: s.Auth(),
		TenantHeader: s.TenantHeader, TenantID: s.TenantID, Timeout: s.Timeout(),
	}
	for _, f := range extra {
		f(&cfg)
	}
	return upstream.New(cfg)
}
