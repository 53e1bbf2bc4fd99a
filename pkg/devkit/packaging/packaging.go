// Package packaging turns dist/ into the zip that Grafana's plugin installer
// and plugin validator expect — one top folder named by the plugin id, the
// frontend, plugin.json, docs, logos, screenshots and one backend executable
// per platform with its run bit, every entry with a real modification time —
// and verifies an existing zip against that layout.
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
	"strconv"
	"strings"
	"time"
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

// minModTime is the earliest modification time written or accepted. The
// MS-DOS date field starts at 1980; an all-zero field (read back as
// 1979-11-30) and 1980-01-01 are the "no date" values archivers write, and
// the plugin validator reports them.
var minModTime = time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)

// licensePlaceholders are the Apache 2.0 appendix's fields left unfilled
// (GitHub's copy uses braces, apache.org's brackets).
var licensePlaceholders = []string{"{yyyy}", "{name of copyright owner}", "[yyyy]", "[name of copyright owner]"}

// LicensePlaceholder returns the first unfilled template field in a LICENSE
// text, or "".
func LicensePlaceholder(text string) string {
	for _, p := range licensePlaceholders {
		if strings.Contains(text, p) {
			return p
		}
	}
	return ""
}

// sourceDateEpoch is SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/)
// as a time, or the zero time when it is unset.
func sourceDateEpoch() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: %w", v, err)
	}
	t := time.Unix(secs, 0).UTC()
	if t.Before(minModTime) {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%s is %s, before the earliest date a zip can hold (1980)", v, t.Format(time.RFC3339))
	}
	return t, nil
}

// Zip writes dist/ into out under a top folder named by the plugin id. It
// checks the layout first and refuses to write an incomplete package.
//
// Every entry's modification time is SOURCE_DATE_EPOCH when that is set
// (reproducible builds: the same dist/ gives the same zip bytes), otherwise
// the file's own mtime; a time before 1980 is refused rather than written as
// the zip's zero date.
func Zip(dist, out string) (Manifest, error) {
	m, err := ReadManifest(dist)
	if err != nil {
		return m, err
	}
	epoch, err := sourceDateEpoch()
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
		modified := epoch
		if modified.IsZero() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			modified = info.ModTime().UTC().Truncate(time.Second)
			if modified.Before(minModTime) {
				return fmt.Errorf("%s: modification time %s is before 1980 and cannot be stored in a zip; touch it or set SOURCE_DATE_EPOCH", p, modified.Format(time.RFC3339))
			}
		}
		hdr := &zip.FileHeader{Name: path.Join(m.ID, rel), Method: zip.Deflate, Modified: modified}
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
// required file present, executables with their run bit, every entry dated
// (not the zip's zero date), a LICENSE without template placeholders.
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
	var undated []string
	for _, f := range zr.File {
		if f.Modified.Before(minModTime) {
			undated = append(undated, f.Name)
		}
	}
	if len(undated) > 0 {
		problems = append(problems, fmt.Sprintf("%d entries have no modification date (e.g. %s)", len(undated), undated[0]))
	}
	if f, ok := files["LICENSE"]; ok {
		text, err := readEntry(f)
		if err != nil {
			return fmt.Errorf("%s: LICENSE: %w", zipPath, err)
		}
		if p := LicensePlaceholder(text); p != "" {
			problems = append(problems, "LICENSE still has the template placeholder "+p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", zipPath, strings.Join(problems, "; "))
	}
	return nil
}

func readEntry(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
