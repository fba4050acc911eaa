#!/usr/bin/env bash
# Builds the rpi-swarming image for linux/arm/v7, linux/arm64 and linux/amd64
# with Docker Buildx and pushes one multi-platform image.
#
# Usage: bash ci/images/buildx-push.sh REGISTRY TAG [extra docker buildx build args...]
#   e.g. bash ci/images/buildx-push.sh ghcr.io/my-lab 0.1.0
#   pushes ghcr.io/my-lab/rpi-swarming:0.1.0 (log in first: docker login ghcr.io).
# Env: PLATFORMS (default linux/arm/v7,linux/arm64,linux/amd64),
#      BUILDER (buildx builder name, default rpi-swarming).
#
# On an x86 host the arm stages run under QEMU: the host's binfmt_misc needs
# handlers with the F flag, which `docker run --privileged --rm
# tonistiigi/binfmt --install arm,arm64` registers (or Debian's
# qemu-user-static + binfmt-support). No emulator is copied into the image.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if (($# < 2)); then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
registry=${1%/}
tag=$2
shift 2
platforms=${PLATFORMS:-linux/arm/v7,linux/arm64,linux/amd64}
builder=${BUILDER:-rpi-swarming}
image="$registry/rpi-swarming:$tag"

command -v docker >/dev/null || { echo "buildx-push.sh: docker is not installed (without Docker use ci/images/build-local.sh)" >&2; exit 2; }
docker buildx version >/dev/null 2>&1 || { echo "buildx-push.sh: the docker buildx plugin is missing" >&2; exit 2; }

# Foreign platforms need QEMU handlers; register them when missing.
host=$(docker version --format '{{.Server.Arch}}')
need=()
[[ $platforms == *linux/arm/* && $host != arm ]] && need+=(arm)
[[ $platforms == *linux/arm64* && $host != arm64 ]] && need+=(arm64)
[[ $platforms == *linux/amd64* && $host != amd64 ]] && need+=(amd64)
for a in "${need[@]}"; do
  case $a in arm) h=qemu-arm ;; arm64) h=qemu-aarch64 ;; amd64) h=qemu-x86_64 ;; esac
  if [[ ! -e /proc/sys/fs/binfmt_misc/$h ]]; then
    echo "buildx-push.sh: registering QEMU for ${need[*]} (tonistiigi/binfmt)" >&2
    docker run --privileged --rm tonistiigi/binfmt --install "$(IFS=,; echo "${need[*]}")"
    break
  fi
done

# The default "docker" driver cannot build multi-platform images; use a
# docker-container builder.
if ! docker buildx inspect "$builder" >/dev/null 2>&1; then
  docker buildx create --name "$builder" --driver docker-container >/dev/null
fi

version=$(node -p 'require("./package.json").version' 2>/dev/null || sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_args=()
if url=$(git remote get-url origin 2>/dev/null); then
  url=$(sed -e 's#^git@\([^:]*\):#https://\1/#' -e 's#\.git$##' <<<"$url")
  [[ $url =~ ^https?:// ]] && source_args=(--build-arg "SOURCE=$url")
fi

echo "buildx-push.sh: building $image for $platforms" >&2
docker buildx build --builder "$builder" \
  --platform "$platforms" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" "${source_args[@]}" \
  -f images/Dockerfile -t "$image" --push "$@" .
