// Package kubernetes is MeshWatch's client of the Kubernetes API server,
// through client-go: a rest.Config built from the settings (the pod's
// ServiceAccount in-cluster, or a URL with a token from secureJsonData), a
// REST client for the server's version and API discovery, and a dynamic
// client for Flagger's canaries (flagger.app/v1beta1), read as unstructured
// objects so Flagger's Go module stays out of the binary.
//
// It imports client-go's rest and dynamic packages only: the typed clientset
// and the discovery package (which registers every built-in API type through
// kubernetes/scheme, about 26 MB of the plugin binary) stay out.
package kubernetes

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Kubernetes API"

// API paths this package reads.
const (
	PathVersion = "/version"
	// PathFlagger is Flagger's API group version, served once its CRDs are
	// installed.
	PathFlagger = "/apis/" + FlaggerGroupVersion
)

// FlaggerGroupVersion is the API of Flagger's canaries.
const FlaggerGroupVersion = "flagger.app/v1beta1"

// CanaryResource is Flagger's Canary custom resource.
var CanaryResource = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}

// ErrDisabled is New's error when kubernetes.mode is "disabled".
var ErrDisabled = errors.New("kubernetes access is disabled in the settings (kubernetes.mode)")

// Timeout bounds one request to the API server.
const Timeout = 10 * time.Second

// In-cluster ServiceAccount files, as the kubelet mounts them (variables for
// tests).
var (
	saTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token" // #nosec G101 -- a path, not a secret
	saCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// Config is the client-go configuration for the settings' mode: in-cluster,
// the ServiceAccount token and CA that the kubelet mounts and the API
// server's address from KUBERNETES_SERVICE_HOST/PORT (the token file is
// re-read as the kubelet rotates it); "url", the URL, the token from
// secureJsonData and the optional PEM CA bundle (else the system's roots).
// "disabled" gives ErrDisabled.
func Config(s settings.Kubernetes) (*rest.Config, error) {
	cfg := &rest.Config{Timeout: Timeout, UserAgent: "meshwatch"}
	var caPEM []byte
	switch s.Mode {
	case settings.KubeDisabled:
		return nil, ErrDisabled
	case settings.KubeURL:
		cfg.Host, cfg.BearerToken, caPEM = s.URL, s.Token(), []byte(s.CACert)
		if len(caPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
			return nil, errors.New("kubernetes.caCert holds no usable PEM certificate")
		}
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
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("in-cluster mode but the cluster CA (%s) holds no usable PEM certificate", saCAFile)
		}
		cfg.Host, cfg.BearerToken, cfg.BearerTokenFile, caPEM = "https://"+net.JoinHostPort(host, port), string(tok), saTokenFile, ca
	}
	cfg.TLSClientConfig.CAData = caPEM
	// The cluster is reached directly, as the admin configured it: no proxy
	// from the environment. A dialer of our own also keeps client-go from
	// caching the transport process-wide, so Close releases it.
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	cfg.Dial = (&net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second}).DialContext
	host := cfg.Host
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return capped(host, rt) }
	return cfg, nil
}

// capped puts the project's transport (response size cap, *upstream.Error
// for transport failures) under client-go's authentication; rest.Config's
// Timeout bounds the requests. Watches bypass it: their streams are long.
func capped(host string, rt http.RoundTripper) http.RoundTripper {
	t, err := upstream.NewTransport(upstream.Config{Name: Name, BaseURL: host, Transport: rt, Timeout: -1})
	if err != nil {
		return rt // client-go refuses the same host itself, with its own message
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("watch") == "true" {
			return rt.RoundTrip(req)
		}
		return t.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Target is where the settings point, as messages and the health report
// show it.
func Target(s settings.Kubernetes) string {
	switch s.Mode {
	case settings.KubeURL:
		return settings.ShowURL(s.URL)
	case settings.KubeDisabled:
		return "disabled"
	}
	return "in-cluster ServiceAccount"
}

// Client reads one Kubernetes API server.
type Client struct {
	http *http.Client
	rest *rest.RESTClient
	dyn  *dynamic.DynamicClient
	// watchDyn is dyn without the overall request timeout, for informers.
	watchDyn *dynamic.DynamicClient
	host     *url.URL
	target   string
}

// New builds the client for the settings; ErrDisabled when
// kubernetes.mode is "disabled".
func New(s settings.Kubernetes) (*Client, error) {
	cfg, err := Config(s)
	if err != nil {
		return nil, err
	}
	c, err := NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.target = Target(s)
	return c, nil
}

// NewForConfig builds the client for a rest.Config (tests, tools).
func NewForConfig(cfg *rest.Config) (*Client, error) {
	cfg = dynamic.ConfigFor(cfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	rc, err := rest.UnversionedRESTClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	watchDyn, err := watchClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("%s: the API server URL is not a URL", Name)
	}
	return &Client{http: hc, rest: rc, dyn: dyn, watchDyn: watchDyn, host: host, target: upstream.Shown(host)}, nil
}

// Target is the API server as messages and the health report show it.
func (c *Client) Target() string { return c.target }

// Close releases pooled connections; safe to call more than once.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Dynamic is the dynamic client, for custom resources read as unstructured
// objects.
func (c *Client) Dynamic() dynamic.Interface { return c.dyn }

// Canaries is Flagger's canaries in namespace ("" for all namespaces).
func (c *Client) Canaries(namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return c.dyn.Resource(CanaryResource)
	}
	return c.dyn.Resource(CanaryResource).Namespace(namespace)
}

// Version reads the API server's version.
func (c *Client) Version(ctx context.Context) (*version.Info, error) {
	var info version.Info
	if err := c.get(ctx, PathVersion, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Resources lists the resources of an API group version
// ("flagger.app/v1beta1"), which fails with HTTP 404 when it is not served.
func (c *Client) Resources(ctx context.Context, groupVersion string) (*metav1.APIResourceList, error) {
	var list metav1.APIResourceList
	if err := c.get(ctx, "/apis/"+groupVersion, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	body, err := c.rest.Get().AbsPath(path).Do(ctx).Raw()
	if err != nil {
		return c.Explain(path, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &upstream.Error{Service: Name, URL: c.url(path), Status: http.StatusOK, Err: err,
			Body: "answer is not the expected JSON: " + err.Error()}
	}
	return nil
}

// Probe reads the server's version and checks that Flagger's API is served:
// not installed (404) or not readable (403) is a warning.
func (c *Client) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		ver, err := c.Version(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		if _, err := c.Resources(ctx, FlaggerGroupVersion); err != nil {
			var ue *upstream.Error
			if errors.As(err, &ue) && ue.Status == http.StatusNotFound {
				return health.Outcome{Version: ver.GitVersion, Warn: "Flagger's CRDs (flagger.app/v1beta1) are not installed: the Canaries page stays empty until Flagger is deployed"}, nil
			}
			if errors.As(err, &ue) && ue.Status == http.StatusForbidden {
				return health.Outcome{Version: ver.GitVersion, Warn: "the ServiceAccount may not read flagger.app: apply deploy/'s RBAC for the plugin"}, nil
			}
			return health.Outcome{Version: ver.GitVersion}, err
		}
		return health.Outcome{Version: ver.GitVersion, Note: "Flagger API " + FlaggerGroupVersion + " served"}, nil
	}
}

// Explain turns a client-go error of a call to path into an *upstream.Error:
// the API server's status (code and message) for an error answer, the
// transport failure without the request URL (client-go's errors repeat it,
// query and all) for the rest.
func (c *Client) Explain(path string, err error) error {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return ue
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		msg := s.Message
		if s.Code == 0 {
			s.Code = http.StatusInternalServerError
		}
		return &upstream.Error{Service: Name, URL: c.url(path), Status: int(s.Code), Body: msg, Err: err}
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return &upstream.Error{Service: Name, URL: c.url(path), Err: err}
}

func (c *Client) url(path string) string {
	u := *c.host
	u.Path = u.Path + path
	return upstream.Shown(&u)
}
