#!/usr/bin/env bash
# Builds the single-node test cluster's binaries from the Go module proxy into
# .cache/cluster/bin (git-ignored): kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl, etcd, CoreDNS and the sandbox
# ("pause") program. Idempotent: a stamp per version set makes a second run
# cost milliseconds; Go's build cache makes a rebuild after a version change
# cost only what changed. A cold build costs about 1,000 CPU-seconds.
# Usage: bash ci/cluster/build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=ci/cluster/versions.sh
source "$here/versions.sh"
cache=${RPI_SWARMING_CLUSTER_CACHE:-$root/.cache/cluster}
bin=$cache/bin
stamp="kubernetes=$KUBE_VERSION etcd=$ETCD_VERSION coredns=$COREDNS_VERSION pause=$(sha256sum "$here/pause/main.go" | cut -c1-16)"
log() { printf '[cluster-build] %s\n' "$*" >&2; }

if [[ -f $bin/.stamp && "$(cat "$bin/.stamp")" == "$stamp" ]]; then
  log "up to date ($stamp)"
  exit 0
fi
mkdir -p "$bin" "$cache/src"
start=$SECONDS
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

# --- Kubernetes: a wrapper module, because k8s.io/kubernetes' go.mod replaces
# its staging modules with local paths (go install of its commands fails).
kmod=$cache/src/kubernetes
if [[ ! -f $kmod/.ready || "$(cat "$kmod/.ready")" != "$KUBE_VERSION" ]]; then
  rm -rf "$kmod"
  mkdir -p "$kmod"
  (
    cd "$kmod"
    go mod init rpi-swarming.local/cluster-kubernetes >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    go mod edit -require "k8s.io/kubernetes@$KUBE_VERSION"
    # Every "k8s.io/X => ./staging/src/k8s.io/X" becomes "k8s.io/X => k8s.io/X <staging version>".
    n=0
    while read -r m; do
      go mod edit -replace "$m=$m@$KUBE_STAGING_VERSION"
      n=$((n + 1))
    done < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$gomod")
    ((n > 0)) || { log "no staging replaces found in $gomod"; exit 1; }
    cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod tidy 2>&1 | grep -v '^go: downloading' >&2 || true
  )
  echo "$KUBE_VERSION" >"$kmod/.ready"
fi
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION")"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  log "go build $cmd $KUBE_VERSION"
  (cd "$kmod" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
done

# --- etcd: a second wrapper module (no replaces needed).
emod=$cache/src/etcd
if [[ ! -f $emod/.ready || "$(cat "$emod/.ready")" != "$ETCD_VERSION" ]]; then
  rm -rf "$emod"
  mkdir -p "$emod"
  (
    cd "$emod"
    go mod init rpi-swarming.local/cluster-etcd >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
    go mod edit -require "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy 2>&1 | grep -v '^go: downloading' >&2 || true
  )
  echo "$ETCD_VERSION" >"$emod/.ready"
fi
log "go build etcd $ETCD_VERSION"
(cd "$emod" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)

# --- CoreDNS (served by the proxy without replace directives).
log "go install coredns $COREDNS_VERSION"
GOBIN=$bin go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" 2>&1 | grep -v '^go: downloading' >&2 || true
[[ -x $bin/coredns ]] || { log "coredns build failed"; exit 1; }

# --- the sandbox program (this project's own, ci/cluster/pause/main.go).
log "go build pause"
(cd "$here/pause" && GOFLAGS='' go build -trimpath -ldflags "-s -w" -o "$bin/pause" .)

echo "$stamp" >"$bin/.stamp"
log "built in $((SECONDS - start)) s: $(du -sh "$bin" | cut -f1)"
