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

// Generate writes the browser's wire types, src/api/wire/*.ts, from the Go
// types that declare them: tygo, pinned by go.mod's tool directive, with
// .config/tygo.yaml. Check's Go tests fail while the committed files differ
// from what this writes (TestGeneratedTypeScript).
func Generate() error {
	return sh.RunV("go", "tool", "tygo", "generate", "--config", ".config/tygo.yaml")
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

// Demo runs a newcomer's first run in a browser (tests/demo): `meshwatch
// demo` from an empty data directory, followed from the alert to the
// sign-off, then stopped with SIGINT and SIGTERM, leaving nothing behind.
// It uses the pages Preview built.
func Demo() error {
	return sh.RunV("npm", "run", "e2e:demo")
}

// Check is the one test command: frontend typecheck, lint and unit tests,
// the package (frontend + every backend platform + zip layout), the browser
// suite on the preview host, the demo's first run, go vet, gosec (no HIGH
// findings), and all Go tests, including the integration tests on real
// servers and the plugin protocol test.
func Check() error {
	for _, script := range []string{"typecheck", "lint", "test:ci"} {
		if err := sh.RunV("npm", "run", script); err != nil {
			return fmt.Errorf("npm run %s: %w", script, err)
		}
	}
	mg.SerialDeps(Package, Preview, Demo)
	pkgs, err := goPackages()
	if err != nil {
		return err
	}
	if err := sh.RunV("go", append([]string{"vet"}, pkgs...)...); err != nil {
		return err
	}
	mg.SerialDeps(Gosec)
	// The race detector on every package with concurrency; the real-server
	// integration suites that are CPU-bound data generators run without it
	// (their concurrency is the servers', not ours).
	var raced, plain []string
	for _, p := range pkgs {
		if withoutRace(p) {
			plain = append(plain, p)
		} else {
			raced = append(raced, p)
		}
	}
	race := map[string]string{"CGO_ENABLED": "1"}
	if err := sh.RunWithV(race, "go", append([]string{"test", "-race", "-count=1", "-timeout=40m"}, raced...)...); err != nil {
		return err
	}
	return sh.RunV("go", append([]string{"test", "-count=1", "-timeout=40m"}, plain...)...)
}

// withoutRace names the packages whose tests run without -race: the
// simulator's, the dashboards' and deploy/'s real-server suites, the live
// stack and the findings' evaluation, which spend their time generating
// hours of mesh data or in the servers they start.
func withoutRace(pkg string) bool {
	for _, suffix := range []string{"/dashboards", "/deploy", "/pkg/devkit/simulator", "/pkg/devkit/stack", "/pkg/devkit/eval"} {
		if strings.HasSuffix(pkg, suffix) {
			return true
		}
	}
	return false
}

// gosecTool is the gosec Gosec runs, pinned; `go run` fetches and builds it
// into the module and build caches the first time.
const gosecTool = "github.com/securego/gosec/v2/cmd/gosec@v2.22.11"

// Gosec runs gosec over the module at HIGH severity, as Grafana's plugin
// validator does, and fails on any finding; node_modules, dist and .git are
// not scanned. The module cache is asked first (as a file proxy), so once
// gosec has been fetched this works offline.
func Gosec() error {
	modcache, err := sh.Output("go", "env", "GOMODCACHE")
	if err != nil {
		return err
	}
	proxy, err := sh.Output("go", "env", "GOPROXY")
	if err != nil {
		return err
	}
	cache := filepath.ToSlash(filepath.Join(modcache, "cache", "download"))
	if !strings.HasPrefix(cache, "/") {
		cache = "/" + cache // file:///C:/... on Windows
	}
	env := map[string]string{"GOPROXY": "file://" + cache + "," + proxy}
	if err := sh.RunWithV(env, "go", "run", gosecTool, "-quiet", "-severity=high",
		"-exclude-dir=node_modules", "-exclude-dir=dist", "-exclude-dir=.git", "./..."); err != nil {
		return fmt.Errorf("gosec found HIGH severity issues (fix them, or mark a deliberate one `#nosec Gxxx -- reason`): %w", err)
	}
	fmt.Println("gosec: no HIGH severity findings")
	return nil
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
