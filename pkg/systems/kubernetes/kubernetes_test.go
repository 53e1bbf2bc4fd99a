package kubernetes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// urlSettings is kubernetes.mode "url" settings as Load makes them.
func urlSettings(t *testing.T, u, token, ca string) settings.Kubernetes {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"kubernetes": map[string]any{"mode": "url", "url": u, "caCert": ca}})
	s, err := settings.Load(raw, map[string]string{settings.SecureKubernetesToken: token})
	var fieldErrs settings.Errors
	if errors.As(err, &fieldErrs) {
		for _, fe := range fieldErrs {
			if strings.HasPrefix(fe.Field, "kubernetes") {
				t.Fatalf("settings: %v", fe)
			}
		}
	}
	return s.Kubernetes
}

func newClient(t *testing.T, s settings.Kubernetes) *Client {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAgainstRealAPIServer(t *testing.T) {
	kube := harness.StartKube(t)
	ctx := context.Background()
	s := urlSettings(t, kube.URL, kube.AdminConfig.BearerToken, string(kube.AdminConfig.CAData))
	c := newClient(t, s)
	if c.Target() != kube.URL {
		t.Errorf("target %q", c.Target())
	}

	out, err := c.Probe()(ctx)
	if err != nil || !strings.HasPrefix(out.Version, "v1.") || out.Note != "Flagger API flagger.app/v1beta1 served" || out.Warn != "" {
		t.Fatalf("probe: %+v %v", out, err)
	}
	res, err := c.Resources(ctx, FlaggerGroupVersion)
	if err != nil || !hasResource(res, "canaries") {
		t.Fatalf("flagger resources: %+v %v", res, err)
	}
	list, err := c.Canaries("").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("canaries: %v %v", list, err)
	}
	if _, err := c.Canaries("shop").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("canaries in a namespace: %v", err)
	}

	// A group version that is not served is a 404 upstream error.
	_, err = c.Resources(ctx, "nope.example.com/v1")
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound || !strings.HasPrefix(err.Error(), "Kubernetes API at "+kube.URL+"/apis/nope.example.com/v1 answered HTTP 404") {
		t.Errorf("unserved group: %v", err)
	}

	// Anonymous: /version is public, API discovery is not (403 → RBAC warning).
	anon := newClient(t, settings.Kubernetes{Mode: settings.KubeURL, URL: kube.URL, CACert: string(kube.AdminConfig.CAData)})
	out, err = anon.Probe()(ctx)
	if err != nil || !strings.Contains(out.Warn, "may not read flagger.app") || out.Version == "" {
		t.Errorf("anonymous probe: %+v %v", out, err)
	}

	// A wrong token: the health line says the credentials were refused and
	// never shows the token.
	bad := newClient(t, urlSettings(t, kube.URL, "s3cr3t-wrong-token", string(kube.AdminConfig.CAData)))
	r := health.Run(ctx, []health.Check{{Name: Name, Target: bad.Target(), Fix: "kubernetes.mode / kubernetes.url", Probe: bad.Probe()}}, 10*time.Second)
	if l := r.Results[0]; !strings.Contains(l.Message, "refused the credentials (HTTP 401)") || strings.Contains(l.Message, "s3cr3t") {
		t.Errorf("wrong token: %+v", l)
	}

	// Without the CA the serving certificate is not trusted.
	untrusted := newClient(t, urlSettings(t, kube.URL, kube.AdminConfig.BearerToken, ""))
	if _, err := untrusted.Version(ctx); !errors.As(err, &ue) || ue.Status != 0 || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: %v", err)
	}

	// In-cluster: the ServiceAccount files and KUBERNETES_SERVICE_HOST/PORT.
	u, _ := url.Parse(kube.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	dir := t.TempDir()
	useServiceAccount(t, dir, kube.AdminConfig.BearerToken, string(kube.AdminConfig.CAData))
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	in := newClient(t, settings.Kubernetes{Mode: settings.KubeInCluster})
	if out, err := in.Probe()(ctx); err != nil || out.Note != "Flagger API flagger.app/v1beta1 served" || in.Target() != "in-cluster ServiceAccount" {
		t.Fatalf("in-cluster probe: %+v %v (target %q)", out, err, in.Target())
	}
}

func hasResource(l *metav1.APIResourceList, name string) bool {
	for _, r := range l.APIResources {
		if r.Name == name {
			return true
		}
	}
	return false
}

// useServiceAccount writes the ServiceAccount files into dir and points the
// package at them for the test.
func useServiceAccount(t *testing.T, dir, token, ca string) {
	t.Helper()
	oldToken, oldCA := saTokenFile, saCAFile
	saTokenFile, saCAFile = filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	t.Cleanup(func() { saTokenFile, saCAFile = oldToken, oldCA })
	if token != "" {
		if err := os.WriteFile(saTokenFile, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if ca != "" {
		if err := os.WriteFile(saCAFile, []byte(ca), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// testCA is a self-signed CA certificate in PEM.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestConfigModesAndErrors(t *testing.T) {
	ca := testCA(t)
	if _, err := New(settings.Kubernetes{Mode: settings.KubeDisabled}); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled: %v", err)
	}
	if got := Target(settings.Kubernetes{Mode: settings.KubeDisabled}); got != "disabled" {
		t.Errorf("disabled target %q", got)
	}
	if _, err := Config(urlSettings(t, "https://kube.example:6443", "tok", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")); err == nil ||
		err.Error() != "kubernetes.caCert holds no usable PEM certificate" {
		t.Errorf("bad CA: %v", err)
	}
	cfg, err := Config(urlSettings(t, "https://kube.example:6443", "tok", ca))
	if err != nil || cfg.Host != "https://kube.example:6443" || cfg.BearerToken != "tok" || string(cfg.CAData) != ca ||
		cfg.Timeout != Timeout {
		t.Errorf("url mode: %+v %v", cfg, err)
	}
	if p, _ := cfg.Proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: "kube.example:6443"}}); p != nil {
		t.Errorf("no proxy from the environment, got %v", p)
	}

	dir := t.TempDir()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	in := settings.Kubernetes{Mode: settings.KubeInCluster}
	if _, err := New(in); err == nil || !strings.Contains(err.Error(), "forward_host_env_vars = meshwatch-mesh-app") {
		t.Errorf("no env: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	useServiceAccount(t, dir, "", "")
	if _, err := New(in); err == nil || !strings.Contains(err.Error(), "ServiceAccount token is unreadable") {
		t.Errorf("no token: %v", err)
	}
	useServiceAccount(t, dir, "sa-token", "")
	if _, err := New(in); err == nil || !strings.Contains(err.Error(), "cluster CA is unreadable") {
		t.Errorf("no CA: %v", err)
	}
	useServiceAccount(t, dir, "sa-token", ca)
	cfg, err = Config(in)
	if err != nil || cfg.Host != "https://10.96.0.1:443" || cfg.BearerToken != "sa-token" || cfg.BearerTokenFile != saTokenFile || string(cfg.CAData) != ca {
		t.Errorf("in-cluster: %+v %v", cfg, err)
	}
	if got := Target(in); got != "in-cluster ServiceAccount" {
		t.Errorf("in-cluster target %q", got)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
	if cfg, _ = Config(in); cfg.Host != "https://[fd00::1]:443" {
		t.Errorf("IPv6 host: %q", cfg.Host)
	}
}

func TestTargetHidesCredentials(t *testing.T) {
	if got := Target(settings.Kubernetes{Mode: settings.KubeURL, URL: "https://admin:hunter2@kube:6443"}); strings.Contains(got, "hunter2") {
		t.Errorf("target %q", got)
	}
}

func TestFlaggerNotInstalled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathVersion {
			_, _ = w.Write([]byte(`{"major":"1","minor":"36","gitVersion":"v1.36.0"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	out, err := newClient(t, urlSettings(t, srv.URL, "tok", "")).Probe()(context.Background())
	if err != nil || out.Version != "v1.36.0" || !strings.HasPrefix(out.Warn, "Flagger's CRDs (flagger.app/v1beta1) are not installed") {
		t.Fatalf("got %+v %v", out, err)
	}
}

func TestErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, Name, "kubernetes.mode / kubernetes.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		cfg, err := Config(urlSettings(t, base, systemtest.Secret, ""))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Timeout = time.Duration(timeoutSeconds) * time.Second
		c, err := NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.Probe()
	})
}
