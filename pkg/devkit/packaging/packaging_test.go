package packaging

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeDist(t *testing.T, version string, skip string) string {
	t.Helper()
	dist := t.TempDir()
	pj := `{"id":"meshwatch-mesh-app","type":"app","backend":true,"executable":"gpx_mesh",
	"info":{"version":"` + version + `","logos":{"small":"img/logo.svg","large":"img/logo.svg"},
	"screenshots":[{"name":"x","path":"img/screenshots/x.png"}]}}`
	files := map[string]string{"plugin.json": pj, "module.js": "define([],{})", "README.md": "r", "CHANGELOG.md": "c",
		"LICENSE": "l", "go_plugin_build_manifest": "m", "img/logo.svg": "<svg/>", "img/screenshots/x.png": "png",
		"dashboards/mesh.json": "{}"}
	for _, e := range []string{"gpx_mesh_linux_amd64", "gpx_mesh_linux_arm64", "gpx_mesh_linux_arm",
		"gpx_mesh_darwin_amd64", "gpx_mesh_darwin_arm64", "gpx_mesh_windows_amd64.exe"} {
		files[e] = "ELF"
	}
	for name, body := range files {
		if name == skip {
			continue
		}
		p := filepath.Join(dist, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

func TestZipLayout(t *testing.T) {
	dist := writeDist(t, "1.2.3", "")
	out := filepath.Join(t.TempDir(), "pkg.zip")
	m, err := Zip(dist, out)
	if err != nil {
		t.Fatal(err)
	}
	if ZipName(m) != "meshwatch-mesh-app-1.2.3.zip" {
		t.Fatalf("zip name %s", ZipName(m))
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	seen := map[string]os.FileMode{}
	for _, f := range zr.File {
		seen[f.Name] = f.Mode()
	}
	if mode, ok := seen["meshwatch-mesh-app/gpx_mesh_linux_arm"]; !ok || mode&0o111 == 0 {
		t.Fatalf("linux/arm executable missing or not executable: %v", mode)
	}
	if mode := seen["meshwatch-mesh-app/plugin.json"]; mode&0o111 != 0 {
		t.Fatalf("plugin.json must not be executable: %v", mode)
	}
	if _, ok := seen["meshwatch-mesh-app/dashboards/mesh.json"]; !ok {
		t.Fatal("dashboards are not shipped")
	}
}

func TestZipRefusesIncompleteDist(t *testing.T) {
	for _, tc := range []struct{ skip, want string }{
		{"gpx_mesh_windows_amd64.exe", "gpx_mesh_windows_amd64.exe"},
		{"img/screenshots/x.png", "img/screenshots/x.png"},
		{"CHANGELOG.md", "CHANGELOG.md"},
	} {
		dist := writeDist(t, "1.2.3", tc.skip)
		if _, err := Zip(dist, filepath.Join(t.TempDir(), "p.zip")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without %s: want an error naming it, got %v", tc.skip, err)
		}
	}
	dist := writeDist(t, "%VERSION%", "")
	if _, err := Zip(dist, filepath.Join(t.TempDir(), "p.zip")); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("unbuilt plugin.json: got %v", err)
	}
}

func TestVerifyCatchesBadZips(t *testing.T) {
	// write zips entries (name → mode); an entry named in undated gets the
	// zip's zero date, LICENSE gets licence as its text.
	write := func(entries map[string]os.FileMode, undated string, licence string) string {
		p := filepath.Join(t.TempDir(), "x.zip")
		f, _ := os.Create(p)
		zw := zip.NewWriter(f)
		for name, mode := range entries {
			h := &zip.FileHeader{Name: name, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			if name == undated {
				h.Modified = time.Time{}
			}
			h.SetMode(mode)
			w, _ := zw.CreateHeader(h)
			if strings.HasSuffix(name, "plugin.json") {
				_, _ = w.Write([]byte(`{"id":"meshwatch-mesh-app","executable":"gpx_mesh","backend":true,"info":{"version":"1"}}`))
			}
			if strings.HasSuffix(name, "/LICENSE") {
				_, _ = w.Write([]byte(licence))
			}
		}
		_ = zw.Close()
		_ = f.Close()
		return p
	}
	const licence = "Apache License\n   Copyright 2026 The MeshWatch Authors\n"
	full := func(top string, exeMode os.FileMode) map[string]os.FileMode {
		e := map[string]os.FileMode{}
		for _, r := range []string{"module.js", "plugin.json", "README.md", "CHANGELOG.md", "LICENSE", "go_plugin_build_manifest"} {
			e[top+"/"+r] = 0o644
		}
		for _, p := range Platforms {
			name := top + "/gpx_mesh_" + p
			if strings.HasPrefix(p, "windows") {
				name += ".exe"
			}
			e[name] = exeMode
		}
		return e
	}
	if err := Verify(write(full("meshwatch-mesh-app", 0o755), "", licence)); err != nil {
		t.Fatalf("good zip rejected: %v", err)
	}
	if err := Verify(write(full("meshwatch-mesh-app", 0o644), "", licence)); err == nil || !strings.Contains(err.Error(), "run bit") {
		t.Errorf("executables without run bit: %v", err)
	}
	if err := Verify(write(full("dist", 0o755), "", licence)); err == nil || !strings.Contains(err.Error(), "plugin id") {
		t.Errorf("wrong top folder: %v", err)
	}
	good := full("meshwatch-mesh-app", 0o755)
	if err := Verify(write(good, "meshwatch-mesh-app/module.js", licence)); err == nil || !strings.Contains(err.Error(), "no modification date") {
		t.Errorf("entry with the zero date: %v", err)
	}
	template := "Apache License\n   Copyright {yyyy} {name of copyright owner}\n"
	if err := Verify(write(good, "", template)); err == nil || !strings.Contains(err.Error(), "{yyyy}") {
		t.Errorf("LICENSE with the template placeholder: %v", err)
	}
}

// saneModified fails unless every entry's Modified lies between 2020 and now.
func saneModified(t *testing.T, zipPath string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	lo, hi := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(time.Minute)
	for _, f := range zr.File {
		if f.Modified.Before(lo) || f.Modified.After(hi) {
			t.Errorf("%s: Modified %s, want between %s and now", f.Name, f.Modified.Format(time.RFC3339), lo.Format("2006"))
		}
	}
}

func modified(t *testing.T, zipPath string) map[string]time.Time {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]time.Time{}
	for _, f := range zr.File {
		out[f.Name] = f.Modified
	}
	return out
}

func TestZipEntriesCarryTheFileMtime(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dist := writeDist(t, "1.2.3", "")
	older := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dist, "README.md"), older, older); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pkg.zip")
	if _, err := Zip(dist, out); err != nil {
		t.Fatal(err)
	}
	saneModified(t, out)
	if got := modified(t, out)["meshwatch-mesh-app/README.md"]; !got.Equal(older) {
		t.Errorf("README.md Modified %s, want its mtime %s", got, older)
	}
}

func TestZipUsesSourceDateEpoch(t *testing.T) {
	const epoch = 1767225600 // 2026-01-01T00:00:00Z
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	var zips [][]byte
	for i, mtime := range []time.Time{time.Now(), time.Date(2023, 3, 3, 3, 3, 3, 0, time.UTC)} {
		dist := writeDist(t, "1.2.3", "")
		if i == 1 {
			_ = filepath.WalkDir(dist, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					err = os.Chtimes(p, mtime, mtime)
				}
				return err
			})
		}
		out := filepath.Join(t.TempDir(), "pkg.zip")
		if _, err := Zip(dist, out); err != nil {
			t.Fatal(err)
		}
		saneModified(t, out)
		for name, got := range modified(t, out) {
			if !got.Equal(time.Unix(epoch, 0)) {
				t.Errorf("%s: Modified %s, want SOURCE_DATE_EPOCH %s", name, got, time.Unix(epoch, 0).UTC())
			}
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		zips = append(zips, b)
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Error("with SOURCE_DATE_EPOCH, the same dist/ with other mtimes gave a different zip")
	}
	for _, bad := range []string{"yesterday", "0", "-5"} {
		t.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, err := Zip(writeDist(t, "1.2.3", ""), filepath.Join(t.TempDir(), "p.zip")); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SOURCE_DATE_EPOCH=%s: want an error naming it, got %v", bad, err)
		}
	}
}

func TestZipRefusesUndatedFiles(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dist := writeDist(t, "1.2.3", "")
	epoch0 := time.Unix(0, 0)
	if err := os.Chtimes(filepath.Join(dist, "module.js"), epoch0, epoch0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "p.zip")
	if _, err := Zip(dist, out); err == nil || !strings.Contains(err.Error(), "before 1980") {
		t.Errorf("a file dated 1970: want an error, got %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a zip was left behind")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	if _, err := Zip(dist, out); err != nil {
		t.Errorf("with SOURCE_DATE_EPOCH the file's own date does not matter: %v", err)
	}
}

// The LICENSE the build copies into dist/ (.config/bundler/copyFiles.ts:
// ../LICENSE) is the repository's; packaged, it must be a filled-in
// Apache 2.0 licence.
func TestPackagedLicenseIsFilledIn(t *testing.T) {
	license, err := os.ReadFile(filepath.Join("..", "..", "..", "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	dist := writeDist(t, "1.2.3", "")
	if err := os.WriteFile(filepath.Join(dist, "LICENSE"), license, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pkg.zip")
	if _, err := Zip(dist, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open("meshwatch-mesh-app/LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, p := range []string{"{yyyy}", "{name of copyright owner}", "[yyyy]", "[name of copyright owner]"} {
		if strings.Contains(text, p) {
			t.Errorf("packaged LICENSE still has the placeholder %s", p)
		}
	}
	if !strings.Contains(text, "Apache License\n                           Version 2.0, January 2004") {
		t.Error("packaged LICENSE is not the Apache License 2.0 (package.json says Apache-2.0)")
	}
	if !regexp.MustCompile(`(?m)^   Copyright 20[0-9]{2} \S.*$`).MatchString(text) {
		t.Error("packaged LICENSE has no filled-in \"Copyright <year> <owner>\" line")
	}
}
