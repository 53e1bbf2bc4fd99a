package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The plugin binary (gpx_mesh, built from this package) ships the product
// only: nothing from the development kit (simulator, harness, live stack,
// preview host, plugin host, contract fakes, packaging helpers) may reach
// its dependency graph.
func TestBinaryHasNoDevkitDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/meshwatch/meshwatch/"
	var product []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, module) {
			continue
		}
		if strings.HasPrefix(p, module+"pkg/devkit") {
			t.Errorf("the plugin binary depends on the development kit package %s", p)
		}
		product = append(product, strings.TrimPrefix(p, module))
	}
	if len(product) < 3 {
		t.Fatalf("go list -deps found only %v: the test is not looking at the binary's graph", product)
	}
	t.Logf("product packages in gpx_mesh: %s", strings.Join(product, " "))
}
