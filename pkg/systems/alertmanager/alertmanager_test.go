package alertmanager_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/alertmanager"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
)

func client(t *testing.T, base string, timeoutSeconds int) *alertmanager.Client {
	t.Helper()
	c, err := alertmanager.New(settings.Endpoint{URL: base, TimeoutSeconds: timeoutSeconds}.WithAuth(systemtest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAgainstRealAlertmanager(t *testing.T) {
	srv := harness.StartAlertmanager(t, harness.AlertmanagerOptions{})
	c := client(t, srv.URL, 10)
	st, err := c.Status(context.Background())
	if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(st.VersionInfo.Version) || st.Uptime.IsZero() ||
		st.Cluster.Status != "disabled" {
		t.Fatalf("status: %+v %v", st, err)
	}
	out, err := c.Probe()(context.Background())
	if err != nil || out.Version != st.VersionInfo.Version || c.Target() != srv.URL {
		t.Fatalf("probe: %+v %v (target %q)", out, err, c.Target())
	}
	c.Close()
	c.Close()
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Alertmanager", "alertmanager.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, timeoutSeconds).Probe()
	})
}
