// Package packaging turns dist/ into the zip that Grafana's plugin installer
// and plugin validator expect — one top folder named by the plugin id, the
// frontend, plugin.json, docs, logos, screenshots and one backend executable
// per platform with its run bit — and verifies an existing zip against that
// layout.
package packaging

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Platforms are the GOOS_GOARCH pairs the SDK's BuildAll produces.
var Platforms = []string{"linux_amd64", "linux_arm64", "linux_arm", "darwin_amd64", "darwin_arm64", "windows_amd64"}

// Manifest is the part of plugin.json the layout depends on.
type Manifest struct {
	ID         string `json:"id"`
	Executable string `json:"executable"`
	Backend    bool   `json:"backend"`
	Info       struct {
		Version string `json:"version"`
		Logos   struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
		Screenshots []struct {
			Path string `json:"path"`
		} `json:"screenshots"`
	} `json:"info"`
}

// ReadManifest reads plugin.json from dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s/plugin.json: %w", dir, err)
	}
	return m, nil
}

// Executables lists the backend file names Grafana looks for.
func (m Manifest) Executables() []string {
	var out []string
	for _, p := range Platforms {
		name := m.Executable + "_" + p
		if strings.HasPrefix(p, "windows") {
			name += ".exe"
		}
		out = append(out, name)
	}
	return out
}

// Required lists every path (relative to the top folder) the zip must hold.
func (m Manifest) Required() []string {
	req := []string{"module.js", "plugin.json", "README.md", "CHANGELOG.md", "LICENSE", "go_plugin_build_manifest"}
	if m.Info.Logos.Small != "" {
		req = append(req, m.Info.Logos.Small)
	}
	if m.Info.Logos.Large != "" && m.Info.Logos.Large != m.Info.Logos.Small {
		req = append(req, m.Info.Logos.Large)
	}
	for _, s := range m.Info.Screenshots {
		req = append(req, s.Path)
	}
	if m.Backend {
		req = append(req, m.Executables()...)
	}
	return req
}

// ZipName is <id>-<version>.zip.
func ZipName(m Manifest) string { return m.ID + "-" + m.Info.Version + ".zip" }

// Zip writes dist/ into out under a top folder named by the plugin id. It
// checks the layout first and refuses to write an incomplete package.
func Zip(dist, out string) (Manifest, error) {
	m, err := ReadManifest(dist)
	if err != nil {
		return m, err
	}
	if strings.Contains(m.Info.Version, "%") {
		return m, fmt.Errorf("%s/plugin.json still has the %s placeholder: build the frontend first", dist, m.Info.Version)
	}
	var missing []string
	for _, r := range m.Required() {
		if _, err := os.Stat(filepath.Join(dist, filepath.FromSlash(r))); err != nil {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return m, fmt.Errorf("dist/ is incomplete, missing: %s", strings.Join(missing, ", "))
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return m, err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return m, err
	}
	zw := zip.NewWriter(f)
	exe := map[string]bool{}
	for _, e := range m.Executables() {
		exe[e] = true
	}
	walkErr := filepath.WalkDir(dist, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dist, p)
		rel = filepath.ToSlash(rel)
		hdr := &zip.FileHeader{Name: path.Join(m.ID, rel), Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		if exe[rel] {
			mode = 0o755
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	closeErr := errors.Join(walkErr, zw.Close(), f.Close())
	if closeErr != nil {
		_ = os.Remove(tmp)
		return m, closeErr
	}
	if err := os.Rename(tmp, out); err != nil {
		return m, err
	}
	return m, Verify(out)
}

// Verify checks a plugin zip: one top folder named by the plugin id, every
// required file present, executables with their run bit.
func Verify(zipPath string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	tops := map[string]bool{}
	for _, f := range zr.File {
		top, rest, _ := strings.Cut(f.Name, "/")
		tops[top] = true
		files[rest] = f
	}
	if len(tops) != 1 {
		return fmt.Errorf("%s: want one top folder, found %d (%s)", zipPath, len(tops), strings.Join(sortedKeys(tops), ", "))
	}
	pj, ok := files["plugin.json"]
	if !ok {
		return fmt.Errorf("%s: no plugin.json in the top folder", zipPath)
	}
	rc, err := pj.Open()
	if err != nil {
		return err
	}
	var m Manifest
	err = json.NewDecoder(rc).Decode(&m)
	_ = rc.Close()
	if err != nil {
		return fmt.Errorf("%s: plugin.json: %w", zipPath, err)
	}
	for top := range tops {
		if top != m.ID {
			return fmt.Errorf("%s: top folder %q must be named by the plugin id %q", zipPath, top, m.ID)
		}
	}
	var problems []string
	for _, r := range m.Required() {
		if _, ok := files[r]; !ok {
			problems = append(problems, "missing "+r)
		}
	}
	for _, e := range m.Executables() {
		if f, ok := files[e]; ok && f.Mode()&0o111 == 0 {
			problems = append(problems, e+" lacks its run bit")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", zipPath, strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
