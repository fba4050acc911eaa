#!/usr/bin/env bash
# Sets up what the local demo needs (idempotent: a second run only checks) and
# runs the whole pod on this machine: `rpi-swarming demo` (Swarming double,
# state server with a simulated phone, supervisor, stand-in bot). Ctrl-C stops it.
# Usage: bash ci/demo.sh [demo flags, e.g. --bot-id skia-rpi2-demo --device simulated]
# The full tool set for the tests is `bash ci/install-tools.sh`; the demo needs less.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { printf '[demo] %s\n' "$*" >&2; }

if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  log "Node.js 20 or newer is needed (Debian 13: apt-get install nodejs npm; or bash ci/install-tools.sh)"
  exit 1
fi
if ! command -v python3 >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "apt-get install python3"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null
  else
    log "python3 (3.8 or newer) is needed to run the bot: install it (e.g. sudo apt-get install python3)"
    exit 1
  fi
fi
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
# Only the CLI and the packages it references (tsc -b skips what is up to date).
log "build"
node_modules/.bin/tsc -b packages/cli
exec node packages/cli/bin/rpi-swarming.js demo "$@"
