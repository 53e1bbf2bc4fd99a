//go:build mage

// MeshWatch's build: the SDK's backend targets (buildAll, build:linux, …)
// plus the project's own: frontend, package and check (the one test command).
package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"

	"github.com/meshwatch/meshwatch/pkg/devkit/packaging"
)

func init() {
	// plugin.json lives at the top level (design card), not in src/.
	_ = build.SetBeforeBuildCallback(func(cfg build.Config) (build.Config, error) {
		cfg.PluginJSONPath = "."
		return cfg, nil
	})
}

// Default builds the backend for every platform Grafana runs on.
var Default = build.BuildAll

// Frontend builds the frontend into dist/ (webpack, production).
func Frontend() error {
	return sh.RunV("npm", "run", "build")
}

// Package builds frontend and backend and writes artifacts/<id>-<version>.zip.
func Package() error {
	mg.SerialDeps(Frontend, build.BuildAll)
	m, err := packaging.ReadManifest("dist")
	if err != nil {
		return err
	}
	out := filepath.Join("artifacts", packaging.ZipName(m))
	if _, err := packaging.Zip("dist", out); err != nil {
		return err
	}
	fmt.Println("packaged", out)
	return nil
}

// Preview runs the browser suite: the built plugin on its real backend binary
// in the preview host (not Grafana), driven by Playwright in Debian's Chromium.
func Preview() error {
	if err := sh.RunV("npm", "run", "preview:build"); err != nil {
		return err
	}
	return sh.RunV("npm", "run", "e2e:preview")
}

// Check is the one test command: frontend typecheck, lint and unit tests,
// the package (frontend + every backend platform + zip layout), the browser
// suite on the preview host, go vet, and all Go tests, including the
// integration tests on real servers and the plugin protocol test.
func Check() error {
	for _, script := range []string{"typecheck", "lint", "test:ci"} {
		if err := sh.RunV("npm", "run", script); err != nil {
			return fmt.Errorf("npm run %s: %w", script, err)
		}
	}
	mg.SerialDeps(Package, Preview)
	pkgs, err := goPackages()
	if err != nil {
		return err
	}
	if err := sh.RunV("go", append([]string{"vet"}, pkgs...)...); err != nil {
		return err
	}
	return sh.RunV("go", append([]string{"test", "-count=1", "-timeout=40m"}, pkgs...)...)
}

// goPackages lists the module's Go packages, leaving out the ones npm
// packages ship under node_modules (./... would walk into them).
func goPackages() ([]string, error) {
	out, err := sh.Output("go", "list", "./...")
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, p := range strings.Fields(out) {
		if !strings.Contains(p, "/node_modules/") {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}
