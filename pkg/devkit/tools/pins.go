package tools

import "time"

// The pins: the versions .ci/install-tools.sh builds (keep the two in step;
// TestPinsMatchInstallScript checks the versions and stamps).
//
// Checksums: a SHA-256 is pinned only where it could be checked against
// the project's published sha256sums.txt as quoted by independent sources
// (Prometheus 3.9.1). The others are left empty on purpose: their archives
// are not downloaded and those tools are built from the module proxy, as
// CI builds them, until someone pins a checksum read from the release page
// (sha256sums.txt; dl.k8s.io's <file>.sha256 for kube-apiserver).
//
// BuildEstimate: measured on a 2-core machine with an empty module cache
// (install-tools.sh's "installed in" lines, 2026-12-01): prometheus+promtool
// 20 min, kube-apiserver 20 min, loki 8 min, alertmanager 1.5 min after
// Prometheus had warmed the cache (4 min alone).
var (
	Prometheus = Tool{
		Name: "prometheus", Version: "3.9.1", Bins: []string{"prometheus", "promtool"},
		StampName: "prometheus", Stamp: "v0.309.1",
		Releases: map[string]Archive{
			"linux/amd64": promArchive("amd64", "86a6999dd6aacbd994acde93c77cfa314d4be1c8e7b7c58f444355c77b32c584"),
			"linux/arm64": promArchive("arm64", "4e7f291e527d8aca912a995c183128388c9e048065aff84f74f5a55c9bef3793"),
		},
		Build: "prometheus", BuildEstimate: 20 * time.Minute,
	}
	Alertmanager = Tool{
		Name: "alertmanager", Version: "0.31.1", Bins: []string{"alertmanager"},
		StampName: "alertmanager", Stamp: "v0.31.1",
		Releases: map[string]Archive{
			"linux/amd64": {URL: "https://github.com/prometheus/alertmanager/releases/download/v0.31.1/alertmanager-0.31.1.linux-amd64.tar.gz",
				Format: "tar.gz", Members: map[string]string{"alertmanager": "alertmanager-0.31.1.linux-amd64/alertmanager"}, Size: 37e6},
		},
		Build: "alertmanager", BuildEstimate: 4 * time.Minute,
	}
	Loki = Tool{
		Name: "loki", Version: "3.7.8", Bins: []string{"loki"},
		StampName: "loki", Stamp: "v3.7.8 push=v0.0.0-20250630054201-94c0ba7b0952",
		Releases: map[string]Archive{
			"linux/amd64": {URL: "https://github.com/grafana/loki/releases/download/v3.7.8/loki-linux-amd64.zip",
				Format: "zip", Members: map[string]string{"loki": "loki-linux-amd64"}, Size: 45e6},
		},
		Build: "loki", BuildEstimate: 8 * time.Minute,
	}
	KubeAPIServer = Tool{
		Name: "kube-apiserver", Version: "1.36.3", Bins: []string{"kube-apiserver"},
		StampName: "kube-apiserver", Stamp: "v1.36.3",
		Releases: map[string]Archive{
			"linux/amd64": {URL: "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kube-apiserver", Format: "binary", Size: 100e6},
		},
		Build: "kube", BuildEstimate: 20 * time.Minute,
	}
	// Etcd comes from the distribution (Debian's etcd-server, as
	// install-tools.sh installs it), never from an archive here.
	Etcd = Tool{Name: "etcd", Version: "3.4 (Debian)", Bins: []string{"etcd"}, Build: "etcd", BuildEstimate: time.Minute}
)

func promArchive(arch, sum string) Archive {
	dir := "prometheus-3.9.1.linux-" + arch
	return Archive{
		URL:    "https://github.com/prometheus/prometheus/releases/download/v3.9.1/" + dir + ".tar.gz",
		SHA256: sum, Format: "tar.gz", Size: 132e6,
		Members: map[string]string{"prometheus": dir + "/prometheus", "promtool": dir + "/promtool"},
	}
}

// CRDs are Flagger's and Istio's CustomResourceDefinitions the
// kube-apiserver is given (install-tools.sh reads them from the modules of
// the pinned Flagger and Istio API; a few MB from the module proxy).
var CRDs = Tool{Name: "crds", Version: "flagger v1.44.0, istio api v1.31.1", Files: []string{"crds/flagger.yaml", "crds/istio.yaml"},
	Build: "crds", BuildEstimate: time.Minute}

// Stack is what the preview's --stack and the demo run: Prometheus (and
// promtool for the backfill), Alertmanager, Loki, and the kube-apiserver
// with etcd and the CRDs that a canary is mirrored into.
var Stack = []Tool{Prometheus, Alertmanager, Loki, KubeAPIServer, Etcd, CRDs}
