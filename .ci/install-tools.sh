#!/usr/bin/env bash
# Installs the pinned real servers that pkg/devkit/harness starts in integration tests:
# Prometheus + promtool, Alertmanager, Loki, kube-apiserver, etcd, Flagger's
# controller and load tester, Thanos (query + sidecar), and the Flagger and
# Istio CRDs. Everything is
# built from Go modules (the Go module proxy is the only source) except etcd,
# which comes from Debian's etcd-server package.
#
# Layout: ${MESHWATCH_TOOLS:-$HOME/.cache/meshwatch/tools}/{bin,crds}
# Each tool writes bin/.<tool>.version; a tool whose stamp matches its pin is
# skipped, so a rerun takes seconds. Works unattended (CI=true, no stdin).
#
# Usage: bash .ci/install-tools.sh            # everything
#        bash .ci/install-tools.sh loki kube  # only some tools
# Tools: prometheus alertmanager loki kube etcd flagger crds thanos
set -euo pipefail

# ---- pins -------------------------------------------------------------------
PROMETHEUS_VERSION=v0.309.1         # Prometheus 3.9.1 (v3 is published as v0.3MM.P). Newer ones
                                    # (>= v0.310.0) need github.com/pb33f/*, which the proxy here refuses.
ALERTMANAGER_VERSION=v0.31.1         # newer ones //go:embed a web UI that is not in the module zip
LOKI_VERSION=v3.7.8
LOKI_PUSH_VERSION=v0.0.0-20250630054201-94c0ba7b0952   # github.com/grafana/loki/pkg/push (newest on the proxy)
KUBERNETES_VERSION=v1.36.3          # kube-apiserver; staging modules at v0.36.3
FLAGGER_VERSION=v1.44.0             # cmd/flagger, cmd/loadtester and artifacts/flagger/crd.yaml:
                                    # one version for the binaries, the CRDs and deploy/
ISTIO_API_VERSION=v1.31.1           # kubernetes/customresourcedefinitions.gen.yaml
THANOS_VERSION=v0.42.5              # thanos query + sidecar (HA reads: issue 24); its go.mod has replaces
THANOS_GOTOOLCHAIN=go1.26.11        # Thanos v0.42.5 needs go >= 1.26.10: the go command fetches this one from the proxy
ETCD_DEB_PACKAGE=etcd-server        # Debian's etcd (3.4.23 here), used when no etcd is on PATH
# -----------------------------------------------------------------------------

TOOLS="${MESHWATCH_TOOLS:-$HOME/.cache/meshwatch/tools}"
mkdir -p "$TOOLS/bin" "$TOOLS/crds"
TOOLS="$(cd "$TOOLS" && pwd)"   # absolute: builds run in other directories
BIN="$TOOLS/bin"
CRDS="$TOOLS/crds"

# Builds run outside any workspace, module-aware, quietly niced, two packages at a time.
export GOWORK=off GO111MODULE=on GOFLAGS="-buildvcs=false -p=2"
export CGO_ENABLED="${CGO_ENABLED:-0}"
NICE=(nice -n 10)
LDFLAGS="-s -w"

log() { printf '%s\n' "$*"; }
die() { printf 'install-tools: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is not on PATH"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/meshwatch-tools.XXXXXX")"
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# present NAME WANT FILES...: true when the stamp says WANT and all FILES exist.
present() {
  local name=$1 want=$2; shift 2
  [[ -f "$BIN/.$name.version" && "$(cat "$BIN/.$name.version")" == "$want" ]] || return 1
  local f; for f in "$@"; do [[ -e "$f" ]] || return 1; done
}
# failed NAME: ends a build subshell whose output went to $WORK/NAME.log.
failed() { tail -n 40 "$WORK/$1.log" >&2 || true; die "building $1 failed (log above)"; }
stamp() { printf '%s\n' "$2" >"$BIN/.$1.version"; }
took() { echo $(( $(date +%s) - $1 ))s; }

# modfile_list KIND GOMOD: the entries of a go.mod's KIND (replace|exclude)
# directives, single-line and block form: "old[@ver] new[@ver]" per replace
# (local-path targets printed as they are), "path@ver" per exclude.
modfile_list() {
  awk -v kind="$1" '
    function emit(s,   a, n, l, r) {
      sub(/\/\/.*/, "", s); gsub(/^[ \t]+|[ \t]+$/, "", s); if (s == "") return
      if (kind == "exclude") { split(s, L, /[ \t]+/); print L[1] "@" L[2]; delete L; return }
      n = split(s, a, "=>"); if (n != 2) return
      l = a[1]; r = a[2]; gsub(/^[ \t]+|[ \t]+$/, "", l); gsub(/^[ \t]+|[ \t]+$/, "", r)
      split(l, L, /[ \t]+/); split(r, R, /[ \t]+/)
      printf "%s%s %s%s\n", L[1], (L[2] != "" ? "@" L[2] : ""), R[1], (R[2] != "" ? "@" R[2] : "")
      delete L; delete R
    }
    $0 ~ "^" kind "[ \t]*\\(" { inblock = 1; next }
    inblock && /^\)/           { inblock = 0; next }
    inblock                    { emit($0); next }
    $0 ~ "^" kind "[ \t]"      { s = $0; sub("^" kind "[ \t]+", "", s); emit(s) }
  ' "$2"
}

# throwaway_module DIR MODULE VERSION LOCALFN: a module in DIR that requires
# MODULE@VERSION and carries its replace and exclude directives (which only
# apply in a main module). Callers then `go get -tool` the commands, which
# resolves exactly what building them needs (no `go mod tidy`: it would also
# fetch every other platform's and test's dependencies). Local-path replace targets are handed to
# "LOCALFN old new", which prints the module@version to use instead, or
# nothing to drop that replace.
throwaway_module() {
  local dir=$1 module=$2 version=$3 localfn=$4 gomod old new
  mkdir -p "$dir" && cd "$dir"
  go mod init "meshwatch.local/build/$(basename "$dir")"
  go mod edit -require="$module@$version"
  gomod="$(modgomod "$module@$version")"
  [[ -f "$gomod" ]] || die "cannot download $module@$version"
  while read -r old new; do
    case "$new" in
      ./*|../*) new="$("$localfn" "$old" "$new")"; [[ -n "$new" ]] || continue ;;
    esac
    go mod edit -replace="$old=$new"
  done < <(modfile_list replace "$gomod")
  while read -r old; do go mod edit -exclude="$old"; done < <(modfile_list exclude "$gomod")
}
no_local() { die "unexpected local replace: $1 => $2"; }

# moddir MODULE@VERSION: downloads a module and prints its directory in the cache.
moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'; }
modgomod() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'; }

# logged NAME FUNC: runs FUNC with errexit in force (a subshell on the left of
# `||` would silently ignore failures) and its output in $WORK/NAME.log.
logged() {
  local name=$1; shift
  ( set -euo pipefail; "$@" ) >"$WORK/$name.log" 2>&1 &
  wait $! || failed "$name"
}

# Prometheus' go.mod has exclude directives, so `go install ...@version` refuses
# it: build it in a throwaway module that carries them. No builtinassets tag:
# the web UI assets are not in the module zip; without them Prometheus serves
# its HTTP API normally and only the UI pages 404.
build_prometheus() {
  local mp="${PROMETHEUS_VERSION#v0.}" semver    # v0.3MM.P is Prometheus 3.MM.P
  semver="${mp:0:1}.$((10#${mp:1:2})).${mp#*.}"
  throwaway_module "$WORK/prometheus" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" no_local
  "${NICE[@]}" go get -tool "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
  local cmd
  for cmd in prometheus promtool; do
    "${NICE[@]}" go build -tags netgo -o "$BIN/$cmd" \
      -ldflags "$LDFLAGS -X github.com/prometheus/common/version.Version=$semver" \
      "github.com/prometheus/prometheus/cmd/$cmd"
  done
}

build_alertmanager() {
  cd "$WORK"
  GOBIN="$BIN" "${NICE[@]}" go install -tags netgo \
    -ldflags "$LDFLAGS -X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}" \
    "github.com/prometheus/alertmanager/cmd/alertmanager@$ALERTMANAGER_VERSION"
}

# Loki's go.mod has replace directives (pkg/push is a local one), so it is not
# go-install-able either.
loki_local() {
  case "$2" in ./pkg/push|./pkg/push/) echo "github.com/grafana/loki/pkg/push@$LOKI_PUSH_VERSION" ;;
    *) no_local "$@" ;; esac
}
build_loki() {
  throwaway_module "$WORK/loki" github.com/grafana/loki/v3 "$LOKI_VERSION" loki_local
  "${NICE[@]}" go get -tool "github.com/grafana/loki/v3/cmd/loki@$LOKI_VERSION"
  "${NICE[@]}" go build -tags netgo -o "$BIN/loki" \
    -ldflags "$LDFLAGS -X github.com/grafana/loki/v3/pkg/util/build.Version=$LOKI_VERSION" \
    github.com/grafana/loki/v3/cmd/loki
}

# Thanos' go.mod has replace directives (none local) and needs a newer Go than
# some machines have: the build alone runs under THANOS_GOTOOLCHAIN, which the
# go command downloads from the module proxy (GOTOOLCHAIN=local stays in force elsewhere).
# The slicelabels tag is Thanos' own (.promu.yml): its Store API casts
# Prometheus' labels as slices, and without the tag (Prometheus 3 defaults
# to stringlabels) the sidecar panics on its first Info call.
THANOS_TAGS=netgo,slicelabels
build_thanos() {
  export GOTOOLCHAIN="$THANOS_GOTOOLCHAIN"
  throwaway_module "$WORK/thanos" github.com/thanos-io/thanos "$THANOS_VERSION" no_local
  "${NICE[@]}" go get -tool "github.com/thanos-io/thanos/cmd/thanos@$THANOS_VERSION"
  "${NICE[@]}" go build -tags "$THANOS_TAGS" -o "$BIN/thanos" \
    -ldflags "$LDFLAGS -X github.com/prometheus/common/version.Version=${THANOS_VERSION#v}" \
    github.com/thanos-io/thanos/cmd/thanos
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/...: point each required one at its published v0.MM.P release (only
# the required ones: some, like k8s.io/sample-cli-plugin, are not published).
kube_local() {
  local old="${1%@*}" minor="${KUBERNETES_VERSION#v1.}"
  case "$2" in ./staging/*) ;; *) no_local "$@" ;; esac
  grep -qE "^[[:space:]]+$old v0\.0\.0" "$(modgomod "k8s.io/kubernetes@$KUBERNETES_VERSION")" || return 0
  echo "$old@v0.$minor"
}
build_kube() {
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  throwaway_module "$WORK/kube" k8s.io/kubernetes "$KUBERNETES_VERSION" kube_local
  "${NICE[@]}" go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION"
  "${NICE[@]}" go build -tags netgo -o "$BIN/kube-apiserver" \
    -ldflags "$LDFLAGS -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    k8s.io/kubernetes/cmd/kube-apiserver
}

# Flagger's controller and load tester: one `go install` for both, so they share
# the module download and the build cache (most of their dependencies are common).
build_flagger() {
  cd "$WORK"
  GOBIN="$BIN" "${NICE[@]}" go install -tags netgo \
    -ldflags "$LDFLAGS" \
    "github.com/fluxcd/flagger/cmd/flagger@$FLAGGER_VERSION" \
    "github.com/fluxcd/flagger/cmd/loadtester@$FLAGGER_VERSION"
  mv "$BIN/loadtester" "$BIN/flagger-loadtester"
}

# install_built NAME WANT LABEL LOGNAME BUILD FILE...: runs BUILD (its
# output in LOGNAME's log) unless every FILE is present at version WANT, then
# records WANT for NAME.
install_built() {
  local name=$1 want=$2 label=$3 logname=$4 build=$5 t0; shift 5
  if present "$name" "$want" "$@"; then
    log "$label: already present"; return
  fi
  t0=$(date +%s); logged "$logname" "$build"; stamp "$name" "$want"
  log "$label: installed in $(took "$t0")"
}

install_prometheus() {
  install_built prometheus "$PROMETHEUS_VERSION" "prometheus+promtool $PROMETHEUS_VERSION" prometheus build_prometheus \
    "$BIN/prometheus" "$BIN/promtool"
}
install_alertmanager() {
  install_built alertmanager "$ALERTMANAGER_VERSION" "alertmanager $ALERTMANAGER_VERSION" alertmanager build_alertmanager \
    "$BIN/alertmanager"
}
install_loki() {
  install_built loki "$LOKI_VERSION push=$LOKI_PUSH_VERSION" "loki $LOKI_VERSION" loki build_loki "$BIN/loki"
}
install_flagger() {
  install_built flagger "$FLAGGER_VERSION" "flagger+loadtester $FLAGGER_VERSION" flagger build_flagger \
    "$BIN/flagger" "$BIN/flagger-loadtester"
}
install_thanos() {
  install_built thanos "$THANOS_VERSION toolchain=$THANOS_GOTOOLCHAIN tags=$THANOS_TAGS" "thanos $THANOS_VERSION" thanos build_thanos "$BIN/thanos"
}
install_kube() {
  install_built kube-apiserver "$KUBERNETES_VERSION" "kube-apiserver $KUBERNETES_VERSION" kube build_kube "$BIN/kube-apiserver"
}

install_etcd() {
  local path=""
  if [[ -x "$BIN/etcd" && ! -L "$BIN/etcd" ]]; then path="$BIN/etcd"
  elif command -v etcd >/dev/null 2>&1; then path="$(command -v etcd)"
  elif [[ -x /usr/bin/etcd ]]; then path=/usr/bin/etcd
  fi
  if [[ -n "$path" ]]; then
    [[ "$path" == "$BIN/etcd" ]] || ln -sfn "$path" "$BIN/etcd"
    log "etcd $("$path" --version 2>/dev/null | awk '/etcd Version/{print $3}'): already present ($path)"
    return
  fi
  local t0; t0=$(date +%s)
  local SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null && SUDO=(sudo -n) || die "etcd missing and not root: apt-get install $ETCD_DEB_PACKAGE"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package from starting a system etcd (harmless where there is no init).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee $policy >/dev/null && "${SUDO[@]}" chmod +x $policy && made_policy=1
  fi
  if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$ETCD_DEB_PACKAGE" </dev/null >"$WORK/apt.log" 2>&1; then
    "${SUDO[@]}" apt-get update -q </dev/null >>"$WORK/apt.log" 2>&1 || true
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$ETCD_DEB_PACKAGE" </dev/null >>"$WORK/apt.log" 2>&1 \
      || { [[ $made_policy == 1 ]] && "${SUDO[@]}" rm -f $policy; cat "$WORK/apt.log" >&2; die "apt-get install $ETCD_DEB_PACKAGE failed"; }
  fi
  [[ $made_policy == 1 ]] && "${SUDO[@]}" rm -f $policy
  path="$(command -v etcd || echo /usr/bin/etcd)"
  ln -sfn "$path" "$BIN/etcd"
  log "etcd $("$path" --version 2>/dev/null | awk '/etcd Version/{print $3}'): installed from Debian in $(took "$t0") ($path)"
}

install_crds() {
  local want="flagger=$FLAGGER_VERSION istio-api=$ISTIO_API_VERSION"
  if present crds "$want" "$CRDS/flagger.yaml" "$CRDS/istio.yaml"; then
    log "crds $want: already present"; return
  fi
  local t0 d; t0=$(date +%s)
  d="$(cd "$WORK" && moddir "github.com/fluxcd/flagger@$FLAGGER_VERSION")"
  install -m 0644 "$d/artifacts/flagger/crd.yaml" "$CRDS/flagger.yaml"
  d="$(cd "$WORK" && moddir "istio.io/api@$ISTIO_API_VERSION")"
  install -m 0644 "$d/kubernetes/customresourcedefinitions.gen.yaml" "$CRDS/istio.yaml"
  stamp crds "$want"
  log "crds $want: installed in $(took "$t0")"
}

ALL=(crds etcd prometheus alertmanager kube loki flagger thanos)
SEL=("$@"); [[ ${#SEL[@]} -gt 0 ]] || SEL=("${ALL[@]}")
T0=$(date +%s)
for tool in "${SEL[@]}"; do
  case "$tool" in
    prometheus|promtool) install_prometheus ;;
    alertmanager) install_alertmanager ;;
    loki) install_loki ;;
    kube|kube-apiserver) install_kube ;;
    etcd) install_etcd ;;
    flagger|loadtester) install_flagger ;;
    crds) install_crds ;;
    thanos) install_thanos ;;
    *) die "unknown tool: $tool (known: ${ALL[*]})" ;;
  esac
done
log "tools ready in $TOOLS/bin (total $(took "$T0"))"
