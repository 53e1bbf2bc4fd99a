package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kube is a running kube-apiserver (RBAC on) backed by its own etcd, with
// Flagger's and Istio's CRDs installed and Established. No controllers run: no
// pods are scheduled, no service-account tokens or namespaces' default
// ServiceAccounts are created, garbage collection does not happen. Server-side
// dry runs, CRUD, watches and RBAC checks are all real.
type Kube struct {
	URL     string // https://127.0.0.1:<port>
	EtcdURL string // http://127.0.0.1:<port>
	// AdminConfig authenticates as user "admin" in group system:masters.
	AdminConfig *rest.Config

	dir            string
	kubeconfigOnce sync.Once
	kubeconfig     string
	kubeconfigErr  error
}

// CRDGroupVersionResource of apiextensions.k8s.io/v1 CustomResourceDefinitions.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// StartKube starts etcd and kube-apiserver on random loopback ports, waits for
// /readyz, installs the CRDs from $MESHWATCH_TOOLS/crds and waits until they
// are Established. Both servers are stopped in t.Cleanup.
func StartKube(t T) *Kube {
	t.Helper()
	apiserverBin := RequireBinary(t, BinKubeAPIServer)
	etcdBin := RequireBinary(t, BinEtcd)
	crdDir := requireCRDDir(t)
	dir := t.TempDir()
	mkdirs(t, dir, "etcd", "certs")
	k := &Kube{dir: dir}

	// etcd
	var etcdEnv []string
	if runtime.GOARCH != "amd64" { // etcd 3.4 refuses other arches unless told
		etcdEnv = append(etcdEnv, "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	}
	start(t, func() spec {
		client, peer := freePort(t), freePort(t)
		k.EtcdURL = "http://" + addr(client)
		peerURL := "http://" + addr(peer)
		_ = os.RemoveAll(filepath.Join(dir, "etcd")) // a retried start begins afresh
		return spec{
			name: "etcd",
			bin:  etcdBin,
			dir:  dir,
			env:  etcdEnv,
			args: []string{
				"--name=harness",
				"--data-dir=" + filepath.Join(dir, "etcd"),
				"--listen-client-urls=" + k.EtcdURL,
				"--advertise-client-urls=" + k.EtcdURL,
				"--listen-peer-urls=" + peerURL,
				"--initial-advertise-peer-urls=" + peerURL,
				"--initial-cluster=harness=" + peerURL,
				"--initial-cluster-state=new",
				"--logger=zap",
				"--log-level=warn",
			},
			timeout: 60 * time.Second,
			ready:   httpReady(readyClient, k.EtcdURL+"/health", nil),
		}
	})

	// credentials
	token := randomHex(t, 24)
	writeFile(t, filepath.Join(dir, "tokens.csv"), token+`,admin,admin,"system:masters"`+"\n", 0o600)
	saKey := filepath.Join(dir, "sa.key")
	writeFile(t, saKey, rsaKeyPEM(t), 0o600)

	servingCert := filepath.Join(dir, "certs", "apiserver.crt")
	start(t, func() spec {
		port := freePort(t)
		k.URL = "https://" + addr(port)
		return spec{
			name: "kube-apiserver",
			bin:  apiserverBin,
			dir:  dir,
			args: []string{
				"--etcd-servers=" + k.EtcdURL,
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				fmt.Sprintf("--secure-port=%d", port),
				"--cert-dir=" + filepath.Join(dir, "certs"), // self-signed serving cert for 127.0.0.1
				"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
				"--authorization-mode=RBAC",
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file=" + saKey,
				"--service-account-signing-key-file=" + saKey,
				"--service-cluster-ip-range=10.96.0.0/16",
				// The "kubernetes" Service endpoints may not be a loopback address.
				"--endpoint-reconciler-type=none",
				"--allow-privileged=true",
				"--profiling=false",
				"--v=0",
			},
			timeout: 120 * time.Second,
			ready: certReady(servingCert, k.URL+"/readyz", http.Header{
				"Authorization": {"Bearer " + token},
			}),
		}
	})

	ca, err := os.ReadFile(servingCert)
	if err != nil {
		t.Fatalf("harness: kube-apiserver serving certificate: %v", err)
	}
	k.AdminConfig = &rest.Config{
		Host:            k.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             100,
		Burst:           200,
		UserAgent:       "meshwatch-harness",
	}
	t0 := time.Now()
	if err := k.installCRDs(crdDir); err != nil {
		t.Fatalf("harness: install CRDs: %v", err)
	}
	t.Logf("harness: CRDs Established in %s", time.Since(t0).Round(time.Millisecond))
	return k
}

// certReady probes url like httpReady, trusting only the self-signed serving
// certificate (and its CA) that kube-apiserver writes to caFile as it starts:
// until the file is there and complete, the probe fails and is retried.
func certReady(caFile, url string, header http.Header) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		certs, err := os.ReadFile(caFile) // #nosec G304 -- the harness's own temporary directory
		if err != nil {
			return fmt.Errorf("serving certificate not written yet: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(certs) {
			return fmt.Errorf("serving certificate %s not complete yet", caFile)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		defer tr.CloseIdleConnections()
		return httpReady(&http.Client{Timeout: 5 * time.Second, Transport: tr}, url, header)(ctx)
	}
}

// AsServiceAccount returns a copy of AdminConfig that impersonates the service
// account namespace/name (user system:serviceaccount:<ns>:<name>, groups
// system:serviceaccounts and system:serviceaccounts:<ns>), so RBAC decides what
// it may do. The ServiceAccount object need not exist.
func (k *Kube) AsServiceAccount(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(k.AdminConfig)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
	}
	return cfg
}

// Kubeconfig writes (once) a kubeconfig file for the admin user and returns
// its path, for tools such as kubectl (`kubectl --kubeconfig <path>`).
func (k *Kube) Kubeconfig(t T) string {
	t.Helper()
	k.kubeconfigOnce.Do(func() {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["harness"] = &clientcmdapi.Cluster{Server: k.URL, CertificateAuthorityData: k.AdminConfig.CAData}
		cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: k.AdminConfig.BearerToken}
		cfg.Contexts["harness"] = &clientcmdapi.Context{Cluster: "harness", AuthInfo: "admin", Namespace: "default"}
		cfg.CurrentContext = "harness"
		k.kubeconfig = filepath.Join(k.dir, "kubeconfig")
		k.kubeconfigErr = clientcmd.WriteToFile(*cfg, k.kubeconfig)
	})
	if k.kubeconfigErr != nil {
		t.Fatalf("harness: write kubeconfig: %v", k.kubeconfigErr)
	}
	return k.kubeconfig
}

// installCRDs creates every CustomResourceDefinition in the manifests of dir
// and waits until all are Established.
func (k *Kube) installCRDs(dir string) error {
	cfg := rest.CopyConfig(k.AdminConfig)
	cfg.WarningHandler = rest.NoWarnings{} // Istio's schemas use formats the apiserver does not know
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var names []string
	for _, file := range []string{"flagger.yaml", "istio.yaml"} {
		objs, err := readManifests(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			_, err := dyn.Resource(crdGVR).Create(ctx, o, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("%s: create %s: %w", file, o.GetName(), err)
			}
			names = append(names, o.GetName())
		}
	}
	for _, name := range names {
		for {
			o, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && crdEstablished(o) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not Established: %v", name, errors.Join(err, ctx.Err()))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func crdEstablished(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// readManifests decodes the objects of a multi-document YAML (or JSON) file.
func readManifests(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 64<<10)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func rsaKeyPEM(t T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func randomHex(t T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
