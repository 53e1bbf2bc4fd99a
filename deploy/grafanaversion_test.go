package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The Grafana MeshWatch is tested against is the version of the @grafana/*
// npm packages in package.json: the bundle is built and type-checked with
// them and the preview host's browser tests draw with them. plugin.json's
// grafanaDependency must not claim an older Grafana than that, and every
// Grafana this repository runs (the deploy/ overlays, docker-compose) must
// be that major.minor, at or above the claimed minimum.

type semver struct{ major, minor, patch int }

func (v semver) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v semver) less(o semver) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

func (v semver) sameMinor(o semver) bool { return v.major == o.major && v.minor == o.minor }

// leadingVersion reads X.Y.Z at the start of a version or image tag
// ("13.1.0", "v13.1.0", "13.1.0-ubuntu").
var leadingVersion = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

func parseVersion(s string) (semver, bool) {
	m := leadingVersion.FindStringSubmatch(s)
	if m == nil {
		return semver{}, false
	}
	var v semver
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	v.patch, _ = strconv.Atoi(m[3])
	return v, true
}

// lowerBoundRe is the minimum of one alternative of a semver range:
// ">=13.1.0", "^13.1.0", "~13.1", ">= 13.1.0 <14".
var lowerBoundRe = regexp.MustCompile(`(?:>=|\^|~)\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// lowerBound is the lowest Grafana a grafanaDependency range admits; false
// when some alternative has no lower bound ("*", "<14", "13.x || *").
func lowerBound(dependency string) (semver, bool) {
	var low semver
	for i, alt := range strings.Split(dependency, "||") {
		m := lowerBoundRe.FindStringSubmatch(alt)
		if m == nil {
			return semver{}, false
		}
		var v semver
		v.major, _ = strconv.Atoi(m[1])
		v.minor, _ = strconv.Atoi(m[2]) // "" → 0
		v.patch, _ = strconv.Atoi(m[3])
		if i == 0 || v.less(low) {
			low = v
		}
	}
	return low, true
}

// grafanaRepo matches a Grafana server image (not Loki, Tempo, Alloy …).
var grafanaRepo = regexp.MustCompile(`(^|/)grafana/grafana(-enterprise|-oss)?$`)

// imageRepoTag splits registry/repo:tag[@digest] into repo and tag.
func imageRepoTag(image string) (repo, tag string) {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:]
	}
	return image, ""
}

// grafanaAgreement lists where the plugin's claim (plugin.json
// grafanaDependency) and the Grafana images run (where → image) disagree
// with the tested Grafana.
func grafanaAgreement(tested semver, dependency string, images map[string]string) []string {
	var problems []string
	low, ok := lowerBound(dependency)
	switch {
	case !ok:
		problems = append(problems, fmt.Sprintf("plugin.json grafanaDependency %q has no lower bound; want >=%d.%d.0 (tested against %s)", dependency, tested.major, tested.minor, tested))
	case low.less(semver{tested.major, tested.minor, 0}):
		problems = append(problems, fmt.Sprintf("plugin.json grafanaDependency %q claims Grafana %s, older than the tested %d.%d (@grafana/* %s in package.json)", dependency, low, tested.major, tested.minor, tested))
	}
	if len(images) == 0 {
		problems = append(problems, "no Grafana image found in deploy/ or docker-compose.yaml")
	}
	var where []string
	for w := range images {
		where = append(where, w)
	}
	sort.Strings(where)
	for _, w := range where {
		image := images[w]
		_, tag := imageRepoTag(image)
		v, vok := parseVersion(tag)
		switch {
		case !vok:
			problems = append(problems, fmt.Sprintf("%s: cannot tell the Grafana version of %q; tag it with the tested %d.%d.x", w, image, tested.major, tested.minor))
		case !v.sameMinor(tested):
			problems = append(problems, fmt.Sprintf("%s runs %s, want the tested Grafana %d.%d.x (@grafana/* %s in package.json)", w, image, tested.major, tested.minor, tested))
		case ok && v.less(low):
			problems = append(problems, fmt.Sprintf("%s runs %s, below plugin.json's grafanaDependency %q: the plugin would not load", w, image, dependency))
		}
	}
	return problems
}

// testedGrafana is package.json's @grafana/data, which must be an exact
// version that package-lock.json installs, with the other @grafana/*
// runtime packages at the same major.minor.
func testedGrafana(t *testing.T) semver {
	t.Helper()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSONFile(t, filepath.Join("..", "package.json"), &pkg)
	want := pkg.Dependencies["@grafana/data"]
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(want) {
		t.Fatalf("package.json @grafana/data is %q: pin one exact version, the Grafana the plugin is tested against", want)
	}
	tested, _ := parseVersion(want)
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	readJSONFile(t, filepath.Join("..", "package-lock.json"), &lock)
	if got := lock.Packages["node_modules/@grafana/data"].Version; got != want {
		t.Errorf("package-lock.json installs @grafana/data %q, package.json pins %q", got, want)
	}
	for name, spec := range pkg.Dependencies {
		if !strings.HasPrefix(name, "@grafana/") {
			continue
		}
		if v, ok := parseVersion(strings.TrimLeft(spec, "^~=")); !ok || !v.sameMinor(tested) {
			t.Errorf("package.json %s is %q, want the tested %d.%d like @grafana/data", name, spec, tested.major, tested.minor)
		}
	}
	return tested
}

func readJSONFile(t testing.TB, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// composeDefault is the value docker compose gives "${VAR:-default}" (or a
// literal) when VAR is unset.
var composeVar = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}$`)

func composeDefault(s string) (string, bool) {
	if m := composeVar.FindStringSubmatch(s); m != nil {
		return m[1], true
	}
	return s, !strings.Contains(s, "$")
}

type composeService struct {
	Image   string `json:"image"`
	Extends struct {
		File    string `json:"file"`
		Service string `json:"service"`
	} `json:"extends"`
	Build struct {
		Args map[string]string `json:"args"`
	} `json:"build"`
}

type composeFile struct {
	Services map[string]composeService `json:"services"`
}

// composeGrafanaImages lists the Grafana images a compose file runs by
// default: a service's image, or the image its build args (grafana_image,
// grafana_version, as .config/Dockerfile reads them, merged over the
// extended service's) name.
func composeGrafanaImages(t *testing.T, file string, into map[string]string) {
	t.Helper()
	var cf composeFile
	readYAMLFile(t, file, &cf)
	for name, svc := range cf.Services {
		where := fmt.Sprintf("%s service %s", strings.TrimPrefix(filepath.ToSlash(file), "../"), name)
		if svc.Image != "" {
			img, ok := composeDefault(svc.Image)
			if repo, _ := imageRepoTag(img); ok && grafanaRepo.MatchString(repo) {
				into[where] = img
			}
			continue
		}
		args := map[string]string{}
		if svc.Extends.File != "" {
			var base composeFile
			readYAMLFile(t, filepath.Join(filepath.Dir(file), svc.Extends.File), &base)
			for k, v := range base.Services[svc.Extends.Service].Build.Args {
				args[k] = v
			}
		}
		for k, v := range svc.Build.Args {
			args[k] = v
		}
		version, hasVersion := args["grafana_version"]
		if !hasVersion {
			continue
		}
		image, okImage := composeDefault(args["grafana_image"])
		version, okVersion := composeDefault(version)
		if !okImage || !okVersion || image == "" {
			t.Errorf("%s: build args grafana_image %q / grafana_version %q need a default", where, args["grafana_image"], args["grafana_version"])
			continue
		}
		into[where] = "grafana/" + image + ":" + version
	}
}

func TestGrafanaVersionsAgree(t *testing.T) {
	tested := testedGrafana(t)
	var pj struct {
		Dependencies struct {
			GrafanaDependency string `json:"grafanaDependency"`
		} `json:"dependencies"`
	}
	readJSONFile(t, filepath.Join("..", "plugin.json"), &pj)

	images := map[string]string{}
	for _, dir := range overlays {
		n := 0
		for _, o := range render(t, dir) {
			spec, _ := podSpec(o)
			for _, c := range containers(spec) {
				img, _ := c.m["image"].(string)
				if repo, _ := imageRepoTag(img); grafanaRepo.MatchString(repo) {
					images[fmt.Sprintf("deploy/%s %s container %s", dir, objKey(o), c.name)] = img
					n++
				}
			}
		}
		if n == 0 {
			t.Errorf("deploy/%s runs no Grafana image", dir)
		}
	}
	composeGrafanaImages(t, filepath.Join("..", "docker-compose.yaml"), images)

	for _, p := range grafanaAgreement(tested, pj.Dependencies.GrafanaDependency, images) {
		t.Error(p)
	}
	t.Logf("tested Grafana %s; plugin.json grafanaDependency %q; images:\n  %s", tested, pj.Dependencies.GrafanaDependency, strings.Join(sortedEntries(images), "\n  "))
}

func sortedEntries(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}

// TestGrafanaAgreementCatchesDrift: the check above fails on the drift it
// is there for (the claim and images this repository had before 13.1).
func TestGrafanaAgreementCatchesDrift(t *testing.T) {
	tested := semver{13, 1, 0}
	img := func(tag string) map[string]string {
		return map[string]string{"deploy": "docker.io/grafana/grafana:" + tag, "compose": "grafana/grafana-enterprise:" + tag}
	}
	for _, tc := range []struct {
		dependency string
		images     map[string]string
		want       string // "" for no problem
	}{
		{">=13.1.0", img("13.1.0"), ""},
		{">=13.1.0", img("13.1.3-ubuntu"), ""},
		{">=13.1.0 <14", img("13.1.0"), ""},
		{"^13.1.0", img("13.1.0"), ""},
		{">=12.3.0", img("13.1.0"), "older than the tested 13.1"},
		{">=13.0.0", img("13.1.0"), "older than the tested 13.1"},
		{">=12.3.0 || >=13.1.0", img("13.1.0"), "claims Grafana 12.3.0"},
		{"*", img("13.1.0"), "no lower bound"},
		{"<14", img("13.1.0"), "no lower bound"},
		{">=13.1.0", img("12.4.0"), "want the tested Grafana 13.1.x"},
		{">=13.1.0", img("13.2.0"), "want the tested Grafana 13.1.x"},
		{">=13.1.2", img("13.1.0"), "would not load"},
		{">=13.1.0", map[string]string{"deploy": "docker.io/grafana/grafana@sha256:" + strings.Repeat("a", 64)}, "cannot tell"},
		{">=13.1.0", map[string]string{}, "no Grafana image"},
	} {
		problems := strings.Join(grafanaAgreement(tested, tc.dependency, tc.images), "\n")
		if tc.want == "" && problems != "" {
			t.Errorf("%q with %v: want no problem, got\n%s", tc.dependency, tc.images, problems)
		}
		if tc.want != "" && !strings.Contains(problems, tc.want) {
			t.Errorf("%q with %v: want a problem containing %q, got %q", tc.dependency, tc.images, tc.want, problems)
		}
	}
}
