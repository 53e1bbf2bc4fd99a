package loki_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
)

func client(t *testing.T, base string, timeoutSeconds int) *loki.Client {
	t.Helper()
	c, err := loki.New(settings.Endpoint{URL: base, TimeoutSeconds: timeoutSeconds}.WithAuth(systemtest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAgainstRealLoki(t *testing.T) {
	srv := harness.StartLoki(t)
	c := client(t, srv.URL, 10)
	info, err := c.Buildinfo(context.Background())
	if err != nil || !regexp.MustCompile(`^v?\d+\.\d+\.\d+`).MatchString(info.Version) {
		t.Fatalf("buildinfo: %+v %v", info, err)
	}
	out, err := c.Probe()(context.Background())
	if err != nil || out.Version != info.Version || c.Target() != srv.URL {
		t.Fatalf("probe: %+v %v (target %q)", out, err, c.Target())
	}
	c.Close()
	c.Close()
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Loki", "loki.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, timeoutSeconds).Probe()
	})
}
