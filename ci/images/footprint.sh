#!/usr/bin/env bash
# Memory of the pod's two processes inside an image (the arm/v7 one runs under
# QEMU user emulation): the same workload as test/bench/footprint.bench.ts,
# then each process's V8 heap and external memory from its own /metrics
# (process.memoryUsage(), which QEMU does not distort; its RSS is QEMU's).
# Usage (root): bash ci/images/footprint.sh IMAGE PLATFORM [REQUESTS] [CHECKS]
#   e.g. bash ci/images/footprint.sh localhost/rpi-swarming:ci-armv7 linux/arm/v7
# Prints one "name value" line per figure. The Swarming double and the hook
# client run on the host (a checkout after `npm run build`).
set -euo pipefail
img=$1 platform=$2 requests=${3:-10000} checks=${4:-100}
# shellcheck source=ci/images/common.sh
source "$(dirname "$0")/common.sh"
cd "$images_root"
images_containers_conf
tmp=$(mktemp -d)
names=()
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local n p
  for n in "${names[@]}"; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
  local i
  for ((i = 0; i < 600; i++)); do curl -fsS --max-time 5 "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "footprint: $1 did not answer" >&2
  return 1
}

node packages/cli/bin/rpi-swarming.js swarming-double --double-host 127.0.0.1 --double-port 0 \
  --url-file "$tmp/double-url" --work-dir "$tmp/double" \
  --hook-script packages/swarming-hooks/bot_config.py >"$tmp/double.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 200; i++)); do [[ -s $tmp/double-url ]] && break; sleep 0.1; done
double=$(cat "$tmp/double-url")

hook=$(free_port) ss_metrics=$(free_port) sup_metrics=$(free_port)
names+=("footprint-ss-$$" "footprint-sup-$$")
podman run -d --platform "$platform" --name "footprint-ss-$$" --network=host "$img" state-server \
  --device simulated --bot-id footprint --hook-port "$hook" --metrics-host 127.0.0.1 --metrics-port "$ss_metrics" \
  --simulated-control-port "$(free_port)" --probe-interval-seconds 1 --maintenance-dir /tmp/maintenance \
  --token-config /nonexistent.json >/dev/null
podman run -d --platform "$platform" --name "footprint-sup-$$" --network=host "$img" supervisor \
  --swarming-server "$double" --bot-id footprint --bot-dir /tmp/b/s --shared-dir /tmp/b/shared \
  --metrics-host 127.0.0.1 --metrics-port "$sup_metrics" --token-config /nonexistent.json \
  --state-server-url "http://127.0.0.1:$hook" --update-schedule '* * * * * *' --update-jitter-seconds 0 >/dev/null
wait_http "http://127.0.0.1:$ss_metrics/healthz"
wait_http "http://127.0.0.1:$sup_metrics/healthz"

checks_before=$(curl -fsS "$double/_double/requests" | python3 -c 'import json,sys; print(sum(r["path"] == "/bot_code" for r in json.load(sys.stdin)["requests"]))')
start=$SECONDS
python3 - "$hook" "$requests" <<'PY'
import http.client, json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
h = {"Content-Type": "application/json", "X-Swarming-Bot-Id": "footprint"}
loop = [("POST", "/get_dimensions", json.dumps({"id": ["footprint"], "pool": ["default"], "os": ["Linux"], "python": ["3"]})),
        ("POST", "/get_state", json.dumps({"cwd": "/b/s", "ram": 3906, "disks": {"/": {"free_mb": 9876.5}}})),
        ("GET", "/get_settings", None)]
for i in range(n):
    m, p, b = loop[i % 3]
    c.request(m, p, body=b, headers=h)
    r = c.getresponse(); r.read()
    assert r.status == 200, (p, r.status)
PY
echo "hook_requests $requests in $((SECONDS - start)) s"
for ((i = 0; i < 1200; i++)); do
  n=$(curl -fsS "$double/_double/requests" | python3 -c 'import json,sys; print(sum(r["path"] == "/bot_code" for r in json.load(sys.stdin)["requests"]))')
  ((n - checks_before >= checks)) && break
  sleep 1
done
echo "update_checks $((n - checks_before))"
sleep 1.2 # a fresh /metrics render (cached for a second)
for pair in "state_server $ss_metrics" "supervisor $sup_metrics"; do
  read -r who port <<<"$pair"
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v who="$who" '
    /^nodejs_heap_size_used_bytes[{ ]/ { printf "%s_heap_used_mb %.1f\n", who, $NF / 1048576 }
    /^nodejs_heap_size_total_bytes[{ ]/ { printf "%s_heap_total_mb %.1f\n", who, $NF / 1048576 }
    /^nodejs_external_memory_bytes[{ ]/ { printf "%s_external_mb %.1f\n", who, $NF / 1048576 }
    /^process_resident_memory_bytes[{ ]/ { printf "%s_rss_mb %.1f\n", who, $NF / 1048576 }'
done
