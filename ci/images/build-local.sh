#!/usr/bin/env bash
# Builds the rpi-swarming image with podman (no Docker needed), one image per
# platform plus a manifest list over them, all in local storage. The
# debian:trixie-slim base is made from Debian's archive with debootstrap
# (cached under .cache/images/) because no registry is needed or used.
#
# Usage (as root):
#   bash ci/images/build-local.sh [--platform linux/amd64,linux/arm/v7,linux/arm64] [--tag NAME] [--no-cache]
# Defaults: all three platforms, tag localhost/rpi-swarming:<version>.
# Result: NAME (manifest list) and NAME-<amd64|armv7|arm64> (images).
# Push afterwards with: podman manifest push --all NAME docker://REGISTRY/rpi-swarming:TAG
# Build times go to .cache/images/build-times (one "platform seconds" line each).
# Env: RPI_SWARMING_BUILD_CA (PEM bundle npm trusts during the build; default
# the host's /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail
# shellcheck source=ci/images/common.sh
source "$(dirname "$0")/common.sh"
cd "$images_root"

platforms="linux/amd64,linux/arm/v7,linux/arm64"
version=$(node -p 'require("./package.json").version')
tag="localhost/rpi-swarming:$version"
extra=()
while (($#)); do
  case $1 in
    --platform) platforms=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --no-cache) extra+=(--no-cache); shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-local.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "build-local.sh: needs root (debootstrap, binfmt_misc registration, rootful podman)" >&2
  exit 2
fi
for tool in podman debootstrap update-binfmts; do
  command -v "$tool" >/dev/null || { echo "build-local.sh: '$tool' is missing: run bash ci/install-tools.sh" >&2; exit 2; }
done

# platform -> Debian arch and tag suffix
declare -A deb_arch=([linux/amd64]=amd64 [linux/arm/v7]=armhf [linux/arm64]=arm64)
declare -A suffix=([linux/amd64]=amd64 [linux/arm/v7]=armv7 [linux/arm64]=arm64)
IFS=, read -ra wanted <<<"$platforms"
host_arch=$(dpkg --print-architecture)
archs=("$host_arch")
for p in "${wanted[@]}"; do
  [[ -n ${deb_arch[$p]:-} ]] || { echo "build-local.sh: unsupported platform '$p' (use linux/amd64, linux/arm/v7, linux/arm64)" >&2; exit 2; }
  [[ " ${archs[*]} " == *" ${deb_arch[$p]} "* ]] || archs+=("${deb_arch[$p]}")
done

images_containers_conf
images_register_qemu
images_bases "${archs[@]}"

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git remote get-url origin 2>/dev/null | sed -e 's#^git@\([^:]*\):#https://\1/#' -e 's#\.git$##' || true)
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision"
  --build-arg "BUILDPLATFORM=linux/$(images_oci_arch "$host_arch" | sed 's/ $//; s# #/#')")
# The host's CA bundle lets npm inside the build trust the same TLS proxies
# the host trusts (a build secret: not stored in the image).
build_ca=${RPI_SWARMING_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $build_ca ]] && build_args+=(--secret "id=build-ca,src=$build_ca")
# A clone of a local path has no web address: the Dockerfile's default then stands.
[[ $source_url =~ ^https?:// ]] && build_args+=(--build-arg "SOURCE=$source_url")

times="$images_cache/build-times"
: >"$times"
podman manifest rm "$tag" >/dev/null 2>&1 || podman rmi "$tag" >/dev/null 2>&1 || true
podman manifest create "$tag" >/dev/null
for p in "${wanted[@]}"; do
  image="$tag-${suffix[$p]}"
  ilog "building $image for $p"
  start=$SECONDS
  # --network=host: the build stage's npm ci reaches the registry without
  # needing CNI networking on the build host.
  # BUILDPLATFORM/TARGETPLATFORM are passed explicitly: podman 4.3's buildah
  # does not expand them in FROM lines by itself.
  podman build --pull=never --layers --network=host --platform "$p" \
    "${build_args[@]}" "${extra[@]}" --build-arg "TARGETPLATFORM=$p" -f images/Dockerfile -t "$image" .
  echo "$p $((SECONDS - start))" >>"$times"
  ilog "built $image in $((SECONDS - start)) s"
  podman manifest add "$tag" "containers-storage:$image" >/dev/null
done
ilog "manifest list $tag: ${wanted[*]}"
