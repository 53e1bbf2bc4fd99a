// Package connect builds the upstream clients for each external system from
// the settings: the telemetry backends, Ollama behind the egress guard, and
// the Kubernetes API (in-cluster ServiceAccount or an explicit URL + token).
//
// Deprecated: each system's client is built by its package under
// pkg/systems (prometheus.New, loki.New, tempo.New, alertmanager.New,
// ollama.New, kubernetes.New); this package goes once pkg/plugin no longer
// imports it.
package connect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/meshwatch/meshwatch/pkg/egress"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Endpoint builds the client for one telemetry endpoint.
func Endpoint(name string, e settings.Endpoint) (*upstream.Client, error) {
	return upstream.New(upstream.Config{
		Name: name, BaseURL: e.URL, Authorization: e.Auth(),
		TenantHeader: e.TenantHeader, TenantID: e.TenantID, Timeout: e.Timeout(),
	})
}

// Ollama builds the LLM client; it refuses external addresses at dial time
// unless the admin allowed them.
func Ollama(l settings.LLM) (*upstream.Client, error) {
	return upstream.New(upstream.Config{
		Name: "Ollama", BaseURL: l.URL, Authorization: l.Auth(),
		TenantHeader: l.TenantHeader, TenantID: l.TenantID, Timeout: l.Timeout(),
		DialContext: egress.Dialer(l.AllowExternal, 10*time.Second),
	})
}

// In-cluster ServiceAccount files, as the kubelet mounts them.
const (
	saTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token" // #nosec G101 -- a path, not a secret
	saCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// ErrKubernetesDisabled is returned when kubernetes.mode is "disabled".
var ErrKubernetesDisabled = errors.New("kubernetes access is disabled in the settings (kubernetes.mode)")

// Kubernetes builds the API server client for the configured mode.
func Kubernetes(k settings.Kubernetes) (*upstream.Client, error) {
	var base, token, caPEM string
	switch k.Mode {
	case settings.KubeDisabled:
		return nil, ErrKubernetesDisabled
	case settings.KubeURL:
		base, token, caPEM = k.URL, k.Token(), k.CACert
	default:
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("in-cluster mode but KUBERNETES_SERVICE_HOST/PORT are not set: Grafana >= 12.4 forwards them only with [plugins] forward_host_env_vars = meshwatch-mesh-app; or set kubernetes.mode to \"url\" with a token")
		}
		tok, err := os.ReadFile(saTokenFile)
		if err != nil {
			return nil, fmt.Errorf("in-cluster mode but the ServiceAccount token is unreadable: %w", err)
		}
		ca, err := os.ReadFile(saCAFile)
		if err != nil {
			return nil, fmt.Errorf("in-cluster mode but the cluster CA is unreadable: %w", err)
		}
		base, token, caPEM = "https://"+net.JoinHostPort(host, port), string(tok), string(ca)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if caPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, errors.New("kubernetes.caCert holds no usable PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	return upstream.New(upstream.Config{Name: "Kubernetes API", BaseURL: base, Authorization: auth,
		Timeout: 10 * time.Second, Transport: tr})
}
