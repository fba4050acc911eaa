#!/usr/bin/env bash
# Multi-arch image suite: makes the debian:trixie-slim bases with debootstrap
# (cached under .cache/images/), registers QEMU, builds images/Dockerfile with
# podman for linux/amd64 and linux/arm/v7 (ci/images/build-local.sh), and
# smoke-tests both images; the armv7 one runs under QEMU emulation.
# Writes "<passed> <failed>" to $1. Prints image sizes and build times.
# Env: RPI_SWARMING_SKIP_IMAGES=1   skip the whole suite (it says so);
#      RPI_SWARMING_IMAGES_RECORD=1 also write the figures into docs/benchmarks.md;
#      RPI_SWARMING_IMAGES_NO_CACHE=1 build without podman's layer cache (cold build times);
#      RPI_SWARMING_IMAGES_TAG=NAME   build and test NAME-amd64/NAME-armv7 instead of localhost/rpi-swarming:ci.
# The sh -c scripts below are single-quoted on purpose (they expand inside the image).
# shellcheck disable=SC2016
set -uo pipefail
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

if [[ "${RPI_SWARMING_SKIP_IMAGES:-}" == "1" ]]; then
  echo "images: SKIPPED because RPI_SWARMING_SKIP_IMAGES=1: no image was built or tested"
  echo "0 0" >"$out"
  exit 0
fi

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/     | /' | tail -n 30; }
finish() { echo "$passed $failed" >"$out"; exit 0; }

if [[ $(id -u) -ne 0 ]]; then
  fail "images: the image suite needs root (debootstrap, binfmt_misc, rootful podman); set RPI_SWARMING_SKIP_IMAGES=1 to skip it"
  finish
fi
# shellcheck source=ci/images/common.sh
source ci/images/common.sh
images_containers_conf

version=$(node -p 'require("./package.json").version')
# The cluster suite (70-cluster.sh) runs the images under this default tag.
tag=${RPI_SWARMING_IMAGES_TAG:-localhost/rpi-swarming:ci}
declare -A image=([amd64]="$tag-amd64" [armv7]="$tag-armv7")
declare -A machine=([amd64]=x86_64 [armv7]=armv7l)
declare -A platform=([amd64]=linux/amd64 [armv7]=linux/arm/v7)
containers=()
tmp=$(mktemp -d)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local c
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- static checks --------------------------------------------------------------
if o=$(hadolint images/Dockerfile 2>&1); then pass "hadolint images/Dockerfile"; else fail "hadolint images/Dockerfile" "$o"; fi
if o=$(shellcheck -x ci/images/*.sh images/icu/*.sh ci/suites/60-images.sh 2>&1); then
  pass "shellcheck ci/images/*.sh images/icu/*.sh ci/suites/60-images.sh"
else
  fail "shellcheck ci/images/*.sh images/icu/*.sh ci/suites/60-images.sh" "$o"
fi

# --- build --------------------------------------------------------------------
build_flags=()
[[ "${RPI_SWARMING_IMAGES_NO_CACHE:-}" == "1" ]] && build_flags+=(--no-cache)
suite_start=$SECONDS
deboot_lines=$( (wc -l <"$images_cache/debootstrap-times") 2>/dev/null || echo 0)
if bash ci/images/build-local.sh --platform linux/amd64,linux/arm/v7 --tag "$tag" "${build_flags[@]}" >"$tmp/build.log" 2>&1; then
  pass "build linux/amd64 and linux/arm/v7 with podman"
else
  fail "build linux/amd64 and linux/arm/v7 with podman (log below)" "$(tail -n 40 "$tmp/build.log")"
  finish
fi

# podman run with the image's own platform (no mismatch warning for armv7).
prun() { local a=$1; shift; podman run --rm --platform "${platform[$a]}" "$@"; }
# run_sh ARCH SCRIPT: runs SCRIPT with sh inside the ARCH image, no network.
run_sh() { prun "$1" --network=none --entrypoint sh "${image[$1]}" -c "$2" 2>&1; }
# expect NAME OUTPUT REGEX: passes when a line of OUTPUT matches the extended regex.
expect() {
  if grep -Eq -- "$3" <<<"$2"; then pass "$1"; else fail "$1: expected /$3/" "$2"; return 1; fi
}
# expect_lines NAME OUTPUT REGEX...: passes when every regex matches some line of OUTPUT, in any order.
expect_lines() {
  local name=$1 text=$2 re
  shift 2
  for re in "$@"; do
    grep -Eq -- "$re" <<<"$text" || { fail "$name: expected a line /$re/" "$text"; return 1; }
  done
  pass "$name"
}
# The sudo stand-in's checks, run by sh inside the image. Its stderr goes to a
# file, printed last with a prefix, so stdout alone carries the facts.
sudo_check_script() {
  cat <<'SH'
exec 2>/tmp/sudo-check.err
echo "sudo=$(command -v sudo)"
RPI_SWARMING_REBOOT_REQUEST_FILE=/tmp/reboot-requests sh -c 'echo $$ >/tmp/caller; sudo -n /sbin/shutdown -r now; echo caller-survived'
echo "caller-exit=$?"
python3 -c '
import json
line, = open("/tmp/reboot-requests").read().splitlines()
r = json.loads(line)
assert r["pid"] == int(open("/tmp/caller").read()), r
assert r["args"] == "-n /sbin/shutdown -r now", r
assert isinstance(r["time"], int), r
print("request-ok")'
sh -c 'sudo -n /sbin/reboot -f 2>/tmp/unset.err; echo caller-survived'
echo "unset-caller-exit=$?"
echo "unset-stderr=$(cat /tmp/unset.err)"
sed 's/^/stderr: /' /tmp/sudo-check.err
SH
}
# Intl under the English-only ICU data, run by node inside the image: one
# fact per line. Other locales fall back to root and are not reported as
# supported; plural rules (one small table for all languages) stay.
icu_check_script() {
  cat <<'SH'
node - <<'JS'
const f = (x) => console.log(x);
f(`number=${new Intl.NumberFormat("en-US").format(1234567.5)}`);
f(`date=${new Date(0).toLocaleString("en-US", { timeZone: "Europe/Paris", timeZoneName: "long" })}`);
f(`compare=${["b", "a", "C"].sort((x, y) => x.localeCompare(y)).join("")}`);
f(`normalize=${"\u00e9".normalize("NFD").length}`);
f(`latin1=${new TextDecoder("latin1").decode(new Uint8Array([0xe9, 0x80])).codePointAt(1).toString(16)}`);
try {
  f(`legacy=${new TextDecoder("koi8-r").decode(new Uint8Array([0x80]))}`);
} catch (e) {
  f(`legacy=${e.code}`);
}
f(`idna=${new URL("http://b\u00fccher.example/").host}`);
f(`regexp=${/\p{Script=Greek}/u.test("\u03b1")}`);
f(`segments=${[...new Intl.Segmenter("en", { granularity: "word" }).segment("hello world")].length}`);
f(`region=${new Intl.DisplayNames("en", { type: "region" }).of("DE")}`);
f(`supported=${Intl.DateTimeFormat.supportedLocalesOf(["en-GB", "de", "ja"]).join(",")}`);
f(`plural-de=${Intl.PluralRules.supportedLocalesOf(["de"]).join(",")}`);
f(`icu=${process.versions.icu}`);
JS
SH
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Each container start costs seconds under emulation: one run checks the tools.
smoke() {
  local a=$1 img=${image[$1]} o
  o=$(buildah inspect --type image --format '{{.OCIv1.Architecture}}/{{.OCIv1.Variant}}' "$img" 2>&1)
  o+=" $(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.revision"}} {{index .Labels "org.opencontainers.image.licenses"}} {{index .Labels "org.opencontainers.image.source"}}' "$img" 2>&1)"
  # The revision is the commit build-local.sh saw (others may commit meanwhile).
  if expect "$a: platform and OCI labels (version, revision, licenses, source)" "$o" \
    "^${platform[$a]#linux/}/? $version [0-9a-f]{40} Apache-2\.0 https?://"; then
    o=$(awk '{ print $3 }' <<<"$o")
    git cat-file -e "$o^{commit}" 2>/dev/null || fail "$a: revision label $o is not a commit of this repository"
  fi
  o=$(podman image inspect --format '{{json .Config.Entrypoint}} {{.Config.User}}' "$img" 2>&1)
  expect "$a: entrypoint tini -- rpi-swarming, default user root" "$o" '^\["/usr/bin/tini","--","rpi-swarming"\] $'
  o=$(prun "$a" --network=none "$img" --version 2>&1)
  expect "$a: rpi-swarming --version (entrypoint)" "$o" "^$version$"
  o=$(run_sh "$a" '
    echo "uname: $(uname -m)"
    echo "cli: $(command -v rpi-swarming) $(rpi-swarming --version)"
    echo "node: $(node --version)"
    echo "python3: $(python3 --version)"
    echo "adb: $(adb version | head -n 1)"
    echo "ideviceinfo: $(ideviceinfo --version)"
    echo "usb: $(command -v usbmuxd) $(command -v idevice_id) $(command -v idevicediagnostics)"
    echo "uhubctl: $(command -v uhubctl) $(uhubctl -v 2>&1)"
    uhubctl >/tmp/uhubctl.out 2>&1; echo "uhubctl-no-hub: exit $? $(head -n 1 /tmp/uhubctl.out)"
    echo "icudata: $(du -k /usr/lib/*/libicudata.so.*.* | cut -f1)"
    echo "leftovers: $(find /var/lib/apt/lists /var/cache/apt -mindepth 1; for t in npm npx tsc gcc make; do command -v $t; done; ls -d /root/.npm /src 2>/dev/null)"
    echo "hooks: $(ls /opt/rpi-swarming/packages/swarming-hooks)"
    echo "pruned: $(ls -d /opt/rpi-swarming/node_modules /opt/rpi-swarming/packages/*/dist /usr/share/nodejs/corepack /usr/share/nodejs/@types /usr/lib/*/gconv/IBM*.so /usr/lib/*/gconv/EUC-JP.so 2>/dev/null)"
    echo "iconv: $(printf "\\303\\251" | iconv -f UTF-8 -t UTF-16LE | od -An -tx1 | tr -d " ")"
    echo "bundles: $(cd /opt/rpi-swarming/packages/cli/bundle && ls demo.js main.js probe.js state-server.js supervisor.js swarming-double.js | tr "\n" " ")"')
  expect "$a: runs as ${machine[$a]}" "$o" "^uname: ${machine[$a]}$"
  expect "$a: rpi-swarming on PATH" "$o" "^cli: /usr/local/bin/rpi-swarming $version$"
  expect "$a: node --version is 20.x" "$o" "^node: v20\."
  expect "$a: python3 --version" "$o" "^python3: Python 3\.[0-9]+"
  expect "$a: adb version" "$o" "^adb: Android Debug Bridge version"
  expect "$a: ideviceinfo --version" "$o" "^ideviceinfo: ideviceinfo [0-9]"
  expect "$a: usbmuxd, idevice_id, idevicediagnostics on PATH" "$o" \
    "^usb: /usr/sbin/usbmuxd /usr/bin/idevice_id /usr/bin/idevicediagnostics$"
  expect "$a: uhubctl on PATH and runs (uhubctl -v)" "$o" "^uhubctl: /usr/sbin/uhubctl [0-9]+\.[0-9]+"
  # What the real uhubctl says and returns where no USB hub can be seen.
  expect "$a: uhubctl without a hub: exit 1, no compatible devices" "$o" \
    "^uhubctl-no-hub: exit 1 No compatible devices detected"
  # Debian's libicudata is 31 MB; the English-only rebuild about 7 MB.
  if [[ $(sed -n 's/^icudata: \([0-9]*\)$/\1/p' <<<"$o") -lt 10240 ]] 2>/dev/null; then
    pass "$a: libicudata is the English-only rebuild (under 10 MB)"
  else
    fail "$a: libicudata is the English-only rebuild (under 10 MB)" "$(grep '^icudata' <<<"$o")"
  fi
  expect "$a: no apt lists, build tools or npm caches left" "$o" "^leftovers: $"
  expect "$a: hook script bot_config.py shipped" "$o" "^hooks: bot_config.py$"
  expect "$a: no node_modules, compiled packages, corepack, type definitions or legacy iconv modules" "$o" "^pruned: $"
  expect "$a: iconv still converts UTF-8 to UTF-16" "$o" "^iconv: e900$"
  expect "$a: one bundle entry per command" "$o" "^bundles: demo.js main.js probe.js state-server.js supervisor.js swarming-double.js $"
  # The bot's reboot: sudo records the request and SIGKILLs its caller. podman
  # relays the container's stdout and stderr separately, so their lines can
  # arrive in any order: the script sends all of its stderr to a file and
  # prints one fact per stdout line; the checks look for lines, not an order.
  o=$(run_sh "$a" "$(sudo_check_script)")
  expect_lines "$a: sudo stand-in is first on PATH, records the request and kills its caller" "$o" \
    "^sudo=/opt/rpi-swarming/sudo-bin/sudo$" "^caller-exit=137$" "^request-ok$"
  expect_lines "$a: sudo stand-in without RPI_SWARMING_REBOOT_REQUEST_FILE says so and still kills" "$o" \
    "^unset-caller-exit=137$" "^unset-stderr=.*RPI_SWARMING_REBOOT_REQUEST_FILE is not set"
  if grep -q caller-survived <<<"$o"; then fail "$a: sudo stand-in kills its caller: a caller survived" "$o"; fi
  o=$(run_sh "$a" "$(icu_check_script)")
  expect_lines "$a: Intl in English under the trimmed ICU data (numbers, dates, time zones, collation, normalization, IDNA, segmentation, display names)" "$o" \
    "^number=1,234,567\.5$" "^date=1/1/1970, 1:00:00 AM Central European Standard Time$" "^compare=abC$" \
    "^normalize=2$" "^latin1=80$" "^idna=xn--bcher-kva\.example$" "^regexp=true$" "^segments=3$" \
    "^region=Germany$" "^plural-de=de$" "^icu=[0-9]+\."
  expect_lines "$a: ICU data is English only (de and ja not listed; no legacy charset converters)" "$o" \
    "^supported=en-GB$" "^legacy=ERR_ENCODING_NOT_SUPPORTED$"
  o=$(prun "$a" --network=none "$img" probe --device none --bot-id image-smoke 2>"$tmp/probe.err")
  if python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["dimensions"]["id"] == ["image-smoke"], r
assert r["state"]["device"]["kind"] == "none", r
' "$o" 2>"$tmp/probe.check"; then
    pass "$a: rpi-swarming probe --device none"
  else
    fail "$a: rpi-swarming probe --device none" "$o$(cat "$tmp/probe.err" "$tmp/probe.check")"
  fi
  o=$(prun "$a" --network=none --user rpi-swarming --entrypoint sh "$img" -c 'id -un; id -Gn; rpi-swarming --version' 2>&1)
  expect "$a: non-root user rpi-swarming (group plugdev) runs the CLI" "$(tr '\n' ' ' <<<"$o")" \
    "^rpi-swarming rpi-swarming plugdev $version $"
}

# state_server ARCH: the state server as the non-root user, on free loopback
# ports of the host network; /healthz, a hook request, then SIGTERM through
# tini must stop it well before podman's kill timeout.
state_server() {
  local a=$1 img=${image[$1]} hook metrics name o i up=0
  hook=$(free_port)
  metrics=$(free_port)
  name="rpi-swarming-smoke-$a-$$"
  containers+=("$name")
  if ! podman run -d --platform "${platform[$a]}" --name "$name" --network=host --user rpi-swarming "$img" state-server \
    --device none --bot-id image-smoke --hook-port "$hook" --metrics-host 127.0.0.1 \
    --metrics-port "$metrics" --maintenance-dir /tmp/maintenance --token-config /nonexistent.json \
    >"$tmp/run.out" 2>&1; then
    fail "$a: state-server container starts" "$(cat "$tmp/run.out")"
    return
  fi
  local start=$SECONDS
  for ((i = 0; i < 240; i++)); do
    if o=$(curl -fsS --max-time 5 "http://127.0.0.1:$metrics/healthz" 2>/dev/null); then up=1; break; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
    sleep 0.5
  done
  if ((up)); then
    pass "$a: state server answers /healthz ($((SECONDS - start)) s after start)"
  else
    fail "$a: state server answers /healthz" "$(podman logs "$name" 2>&1 | tail -n 20)"
    return
  fi
  o=$(curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' \
    -H 'X-Swarming-Bot-Id: image-smoke' --data '{"pool": ["image-test"]}' \
    "http://127.0.0.1:$hook/get_dimensions" 2>&1)
  if python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["id"] == ["image-smoke"], r
assert r["pool"] == ["image-test"], r
' "$o" 2>/dev/null; then
    pass "$a: state server answers POST /get_dimensions"
  else
    fail "$a: state server answers POST /get_dimensions" "$o"
  fi
  start=$SECONDS
  podman stop -t 30 "$name" >/dev/null 2>&1
  local code took=$((SECONDS - start))
  code=$(podman inspect --format '{{.State.ExitCode}}' "$name" 2>&1)
  if [[ $code == 0 && $took -lt 30 ]]; then
    pass "$a: SIGTERM reaches the state server through tini (exit 0 after ${took} s)"
  else
    fail "$a: SIGTERM reaches the state server through tini (exit code $code after ${took} s)" \
      "$(podman logs "$name" 2>&1 | tail -n 10)"
  fi
}

# supervisor_sigterm ARCH: the supervisor against a Swarming server that does
# not answer must still stop cleanly on SIGTERM (the pod's shutdown path).
supervisor_sigterm() {
  local a=$1 img=${image[$1]} metrics name i up=0 start took code
  metrics=$(free_port)
  name="rpi-swarming-smoke-sup-$a-$$"
  containers+=("$name")
  # Settings in a YAML file given as --config, as the chart runs it (the file path loads yaml lazily).
  printf '%s\n' "swarmingServer: http://127.0.0.1:$(free_port)" "botId: image-smoke" "botDir: /tmp/b/s" \
    "sharedDir: /tmp/b/shared" "metricsHost: 127.0.0.1" "metricsPort: $metrics" \
    "tokenConfig: /nonexistent.json" >"$tmp/supervisor-$a.yaml"
  podman run -d --platform "${platform[$a]}" --name "$name" --network=host \
    -v "$tmp/supervisor-$a.yaml:/etc/rpi-swarming/supervisor.yaml:ro" "$img" supervisor \
    --config /etc/rpi-swarming/supervisor.yaml >"$tmp/run.out" 2>&1
  for ((i = 0; i < 240; i++)); do
    if curl -fsS --max-time 5 "http://127.0.0.1:$metrics/healthz" >/dev/null 2>&1; then up=1; break; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
    sleep 0.5
  done
  if ((!up)); then
    fail "$a: supervisor starts from a --config YAML file and serves /healthz" "$(cat "$tmp/run.out"; podman logs "$name" 2>&1 | tail -n 20)"
    return
  fi
  start=$SECONDS
  podman stop -t 30 "$name" >/dev/null 2>&1
  took=$((SECONDS - start))
  code=$(podman inspect --format '{{.State.ExitCode}}' "$name" 2>&1)
  if [[ $code == 0 && $took -lt 30 ]]; then
    pass "$a: supervisor started from a --config YAML file; SIGTERM reaches it through tini (exit 0 after ${took} s)"
  else
    fail "$a: SIGTERM reaches the supervisor through tini (exit code $code after ${took} s)" \
      "$(podman logs "$name" 2>&1 | tail -n 10)"
  fi
}

# demo_pod ARCH: `rpi-swarming demo` in the image: the Swarming double, the
# state server and the supervisor, which runs the bot with the image's
# python3 and hook script; passes when the supervisor reports the bot running,
# and SIGTERM then stops the whole pod cleanly.
demo_pod() {
  local a=$1 img=${image[$1]} metrics name i o up=0 start took code
  metrics=$(free_port)
  name="rpi-swarming-smoke-demo-$a-$$"
  containers+=("$name")
  podman run -d --platform "${platform[$a]}" --name "$name" --network=host "$img" demo --bot-id image-demo \
    --supervisor-metrics-port "$metrics" --summary-interval-seconds 600 >"$tmp/run.out" 2>&1
  start=$SECONDS
  for ((i = 0; i < 180; i++)); do
    o=$(curl -sS --max-time 5 "http://127.0.0.1:$metrics/healthz" 2>/dev/null)
    if grep -q '"bot_running":true' <<<"$o"; then up=1; break; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
    sleep 1
  done
  if ((up)); then
    pass "$a: rpi-swarming demo runs the Swarming bot with the image's python3 ($((SECONDS - start)) s)"
  else
    fail "$a: rpi-swarming demo runs the Swarming bot with the image's python3" \
      "$o$(cat "$tmp/run.out"; podman logs "$name" 2>&1 | tail -n 20)"
    return
  fi
  start=$SECONDS
  podman stop -t 60 "$name" >/dev/null 2>&1
  took=$((SECONDS - start))
  code=$(podman inspect --format '{{.State.ExitCode}}' "$name" 2>&1)
  if [[ $code == 0 && $took -lt 60 ]]; then
    pass "$a: SIGTERM stops the demo pod cleanly (exit 0 after ${took} s)"
  else
    fail "$a: SIGTERM stops the demo pod cleanly (exit code $code after ${took} s)" \
      "$(podman logs "$name" 2>&1 | tail -n 10)"
  fi
}

for a in amd64 armv7; do
  t0=$SECONDS
  smoke "$a"
  state_server "$a"
  supervisor_sigterm "$a"
  demo_pod "$a"
  echo "smoke tests $a: $((SECONDS - t0)) s"
done

# --- a code-only release --------------------------------------------------------
# The amd64 image again from a copy of the sources with one line of our
# TypeScript changed: only the last layer may differ, and its compressed size
# is what a Pi pulls for such a release.
code_release() {
  local copy="$tmp/code-release" img="$tag-code-release" o
  mkdir -p "$copy"
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy" 2>/dev/null
  sed -i 's/Run LUCI Swarming bots for Android and iOS test devices on Raspberry Pis/& (code-only release)/' \
    "$copy/packages/cli/src/program.ts"
  if ! grep -q 'code-only release' "$copy/packages/cli/src/program.ts"; then
    fail "code-only release: the one-line change did not apply to packages/cli/src/program.ts"
    return
  fi
  # A cache directory of its own: build-local.sh rewrites build-times there (the bases are already imported).
  if ! (cd "$copy" && RPI_SWARMING_IMAGE_CACHE=$tmp/code-release-cache bash ci/images/build-local.sh \
    --platform linux/amd64 --tag "$img") >"$tmp/code-release.log" 2>&1; then
    fail "code-only release: build of the changed copy (log below)" "$(tail -n 30 "$tmp/code-release.log")"
    return
  fi
  o=$(prun amd64 --network=none "$img-amd64" --help 2>&1 | tr -s ' \n' ' ')
  expect "code-only release: the rebuilt image carries the change" "$o" "code-only release" || return
  podman push -q --compression-format gzip "$img-amd64" "oci:$tmp/code-release-oci:x" >/dev/null 2>&1
  # Which layers changed: their digests in local storage; what they weigh: the
  # gzip-compressed blobs of the pushed image (same order).
  o=$(python3 - "$tmp/code-release-oci" "$(podman image inspect --format '{{json .RootFS.Layers}}' "${image[amd64]}")" \
    "$(podman image inspect --format '{{json .RootFS.Layers}}' "$img-amd64")" <<'PY'
import json, os, sys
d, before, after = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
blob = lambda dg: os.path.join(d, "blobs", *dg.split(":", 1))
m = json.load(open(blob(json.load(open(os.path.join(d, "index.json")))["manifests"][0]["digest"])))
assert len(m["layers"]) == len(after), (len(m["layers"]), len(after))
changed = [i for i, dg in enumerate(after) if i >= len(before) or before[i] != dg]
size = sum(m["layers"][i]["size"] for i in changed)
print(f"layers={len(after)} changed={','.join(map(str, changed))} last={len(after) - 1} bytes={size}")
PY
)
  echo "code-only release: $o"
  local changed last bytes
  changed=$(sed -n 's/.*changed=\([^ ]*\).*/\1/p' <<<"$o")
  last=$(sed -n 's/.*last=\([0-9]*\).*/\1/p' <<<"$o")
  bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$o")
  if [[ -n $last && $changed == "$last" ]]; then
    pass "code-only release: only the last layer changed ($o)"
  else
    fail "code-only release: layers other than the last changed" "$o"
  fi
  if [[ -n $bytes ]] && ((bytes <= 5000000)); then
    pass "code-only release: a Pi pulls $(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }') MB (<= 5 MB)"
  else
    fail "code-only release: a Pi pulls ${bytes:-?} bytes (target <= 5 MB)" "$o"
  fi
  echo "${bytes:-}" >"$tmp/code-release-bytes"
  podman rmi -f "$img-amd64" >/dev/null 2>&1
  podman manifest rm "$img" >/dev/null 2>&1
}
code_release

# --- sizes and build times ----------------------------------------------------
tail -n +"$((deboot_lines + 1))" "$images_cache/debootstrap-times" >"$tmp/debootstrap-times" 2>/dev/null
results="$images_cache/results.md"
{
  echo "| image | platform | uncompressed | compressed (gzip layers) | build time |"
  echo "|---|---|---|---|---|"
  for a in amd64 armv7; do
    read -r unc comp <<<"$(images_sizes "${image[$a]}")"
    secs=$(awk -v p="${platform[$a]}" '$1 == p { print $2 }' "$images_cache/build-times")
    printf '| rpi-swarming | %s | %s MB | %s MB | %s s |\n' "${platform[$a]}" \
      "$(awk -v b="$unc" 'BEGIN { printf "%.1f", b / 1e6 }')" \
      "$(awk -v b="$comp" 'BEGIN { printf "%.1f", b / 1e6 }')" "$secs"
  done
  if [[ -s $tmp/code-release-bytes ]]; then
    echo
    printf 'A code-only release (one line of packages/cli/src/program.ts changed, amd64 rebuilt): only the last layer differs, %s MB compressed to pull.\n' \
      "$(awk -v b="$(cat "$tmp/code-release-bytes")" 'BEGIN { printf "%.2f", b / 1e6 }')"
  fi
} >"$results"
cat "$results"
echo "image suite: $((SECONDS - suite_start)) s in all"
if [[ "${RPI_SWARMING_IMAGES_RECORD:-}" == "1" ]]; then
  kind=warm note="Warm: podman's layer cache and the cached bases in place"
  if [[ "${RPI_SWARMING_IMAGES_NO_CACHE:-}" == "1" ]]; then
    kind=cold note="Cold: no layer cache (--no-cache)"
  fi
  bases=""
  if [[ -s $tmp/debootstrap-times ]]; then
    bases="Bases made by debootstrap in this run: $(awk '{ printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2 }' "$tmp/debootstrap-times"). "
  fi
  images_record_benchmarks "$kind" "$results" "$note" "$((SECONDS - suite_start))" "$bases"
fi
finish
