package packaging

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	write := func(entries map[string]os.FileMode) string {
		p := filepath.Join(t.TempDir(), "x.zip")
		f, _ := os.Create(p)
		zw := zip.NewWriter(f)
		for name, mode := range entries {
			h := &zip.FileHeader{Name: name}
			h.SetMode(mode)
			w, _ := zw.CreateHeader(h)
			if strings.HasSuffix(name, "plugin.json") {
				_, _ = w.Write([]byte(`{"id":"meshwatch-mesh-app","executable":"gpx_mesh","backend":true,"info":{"version":"1"}}`))
			}
		}
		_ = zw.Close()
		_ = f.Close()
		return p
	}
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
	if err := Verify(write(full("meshwatch-mesh-app", 0o755))); err != nil {
		t.Fatalf("good zip rejected: %v", err)
	}
	if err := Verify(write(full("meshwatch-mesh-app", 0o644))); err == nil || !strings.Contains(err.Error(), "run bit") {
		t.Errorf("executables without run bit: %v", err)
	}
	if err := Verify(write(full("dist", 0o755))); err == nil || !strings.Contains(err.Error(), "plugin id") {
		t.Errorf("wrong top folder: %v", err)
	}
}
