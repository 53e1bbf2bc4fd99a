// Package deploy holds the single-node k3s stack of MeshWatch as kustomize
// manifests (base, overlays, the Flagger CRDs) and the istioctl values for
// Istio. It has no Go code of its own: its tests (package deploy_test) render
// every overlay in process and check it against a real kube-apiserver,
// promtool, the resource budget and the RBAC the plugin is allowed.
package deploy
