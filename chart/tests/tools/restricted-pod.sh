#!/usr/bin/env bash
# Runs the containers of a rendered chart (the first DaemonSet's pod) the way the
# kubelet would, with the real programs, and checks that they work there. Each
# gets a root of its own (an overlay of this machine's root, so the programs and
# Python are found), the pod's emptyDirs (tmpfs of their sizeLimit, shared between
# containers as in a pod), the rendered config files at their mount paths, its
# env and its args after the image's entrypoint. A restricted container (see
# restricted-pod-plan.mjs) runs read-only, as the uid/gid and fsGroup of its
# securityContext, without capabilities and with no_new_privs; any other runs
# as root (a privileged container of the usb mode). Containers with a command
# of their own (usbmuxd) are not run.
# All in private mount, network and pid namespaces: the Swarming double runs
# on the namespace's loopback under the host name of the rendered swarmingServer.
# Then a task writes to /tmp, HOME and its work dir, the bot must report it done,
# both processes stop on SIGTERM, and no log may show a write refused.
# Usage (root): restricted-pod.sh RENDERED.yaml WORK_DIR
set -euo pipefail
rendered=$(realpath "$1")
work=$2
repo=$(cd "$(dirname "$0")/../../.." && pwd)
cli="$repo/packages/cli/bin/rpi-swarming.js"
if [[ "${RESTRICTED_POD_INSIDE:-}" != 1 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces, mounts, setpriv)"; exit 1; }
  mkdir -p "$work"
  exec env RESTRICTED_POD_INSIDE=1 unshare --mount --net --pid --fork --mount-proc "$0" "$rendered" "$(realpath "$work")"
fi

ip link set lo up
mount --make-rprivate /
# Nothing below outlives this namespace; $work itself only gets empty mount points.
mkdir -p "$work/jail"
mount -t tmpfs -o size=64m tmpfs "$work/jail"
base="$work/jail"
logs="$work/logs"
mkdir -p "$logs"

node "$repo/chart/tests/tools/restricted-pod-plan.mjs" pi1 <"$rendered" >"$base/plan"
declare -A uid gid fsgroup mode
containers=()
while IFS=$'\x1f' read -r kind a b c d e; do
  case $kind in
    volume)
      mkdir -p "$base/vol/$a"
      # An emptyDir: world-writable, group fsGroup with setgid when the pod has one.
      # tmpfs takes k/m/g (binary) where Kubernetes says Ki/Mi/Gi.
      bytes=${b:-64Mi}
      bytes=${bytes%i}
      mount -t tmpfs -o "size=${bytes,,},mode=0777" tmpfs "$base/vol/$a"
      ;;
    container) containers+=("$a"); uid[$a]=$b; gid[$a]=$c; fsgroup[$a]=$d; mode[$a]=$e ;;
    skip) echo "not run: $a (a command of its own)" ;;
  esac
done <"$base/plan"
for c in "${containers[@]}"; do echo "container $c: ${mode[$c]}"; done

swarming=""
for c in "${containers[@]}"; do
  root="$base/$c/root"
  mkdir -p "$base/$c/upper" "$base/$c/work" "$root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$base/$c/upper,workdir=$base/$c/work" "$root"
  # The image's layout: the CLI wrapper and the install root with the sudo stand-in.
  install -D -m 0755 "$repo/images/rpi-swarming" "$root/usr/local/bin/rpi-swarming"
  rm -rf "$root/opt/rpi-swarming" && mkdir -p "$root/opt/rpi-swarming/sudo-bin" \
    "$root/opt/rpi-swarming/packages" "$root/opt/rpi-swarming/node_modules"
  touch "$root/opt/rpi-swarming/package.json"
  install -m 0755 "$repo/images/sudo/sudo" "$root/opt/rpi-swarming/sudo-bin/sudo"
  while IFS=$'\x1f' read -r kind name x y; do
    [[ $name == "$c" ]] || continue
    case $kind in
      mount | dir) mkdir -p "$root${y:-$x}" ;;
      file) mkdir -p "$root$(dirname "$x")" && base64 -d <<<"$y" >"$root$x" ;;
    esac
  done <"$base/plan"
  # The rendered Swarming server's host name resolves to this namespace's loopback.
  url=$(sed -n 's/^swarmingServer: *//p' "$root/etc/rpi-swarming/config/supervisor.yaml" 2>/dev/null || true)
  [[ -n $url ]] && swarming=$url
  host=$(node -e 'console.log(new URL(process.argv[1]).hostname)' "$swarming")
  echo "127.0.0.1 $host" >>"$root/etc/hosts"
  mount --bind "$root" "$root"
  # readOnlyRootFilesystem: the root is read-only from here on.
  [[ ${mode[$c]} == restricted ]] && mount -o remount,bind,ro "$root"
  mount --rbind /dev "$root/dev"
  # The checkout goes in by bind mounts, not links: a link into a checkout under /tmp
  # would point below the container's /tmp emptyDir.
  for entry in packages node_modules package.json; do mount --bind "$repo/$entry" "$root/opt/rpi-swarming/$entry"; done
  mount -t proc proc "$root/proc"
  while IFS=$'\x1f' read -r kind name vol path; do
    [[ $kind == mount && $name == "$c" ]] || continue
    # A mount point inside another emptyDir is made there, as the kubelet does.
    [[ -d "$root$path" ]] || mkdir "$root$path"
    mount --bind "$base/vol/$vol" "$root$path"
  done <"$base/plan"
done

port=$(node -e 'const u = new URL(process.argv[1]); console.log(u.port || (u.protocol === "https:" ? 443 : 80))' "$swarming")
node "$cli" swarming-double --double-host 127.0.0.1 --double-port "$port" --work-dir "$base/vol/double" \
  --hook-script "$repo/packages/swarming-hooks/bot_config.py" --default-sleep-seconds 1 >"$logs/swarming-double.log" 2>&1 &
double="http://127.0.0.1:$port"

# in_container NAME COMMAND...: runs the command in the container's root, with its env,
# as its user; restricted: no capabilities, no_new_privs, fsGroup as supplementary group.
in_container() {
  local run=() c kind name x y
  # --exec: replace the calling (background) shell, so that its pid is the program's.
  [[ $1 == --exec ]] && { run=(exec); shift; }
  c=$1
  shift
  local env=(PATH=/opt/rpi-swarming/sudo-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    NODE_ENV=production NODE_NAME=pi1)
  while IFS=$'\x1f' read -r kind name x y; do
    [[ $kind == env && $name == "$c" ]] && env+=("$x=$y")
  done <"$base/plan"
  if [[ ${mode[$c]} == restricted ]]; then
    "${run[@]}" chroot "$base/$c/root" setpriv --reuid "${uid[$c]}" --regid "${gid[$c]}" --groups "${fsgroup[$c]:-${gid[$c]}}" \
      --inh-caps=-all --bounding-set=-all --no-new-privs env -i "${env[@]}" "$@"
  else
    "${run[@]}" chroot "$base/$c/root" env -i "${env[@]}" "$@"
  fi
}
declare -A pids
for c in "${containers[@]}"; do
  args=()
  while IFS=$'\x1f' read -r kind name x y; do
    [[ $kind == arg && $name == "$c" ]] && args+=("$x")
  done <"$base/plan"
  in_container --exec "$c" rpi-swarming "${args[@]}" >"$logs/$c.log" 2>&1 &
  pids[$c]=$!
  echo "started $c as uid ${uid[$c]} (pid ${pids[$c]}): rpi-swarming ${args[*]}"
done

# until SECONDS JS-EXPRESSION-ON-BODY URL: polls the URL until the expression holds.
until_json() {
  node -e '
    const [seconds, expr, url] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
    const test = new Function("body", `return (${expr});`);
    const end = Date.now() + seconds * 1000;
    (async () => {
      let last = "";
      while (Date.now() < end) {
        try { const body = await (await fetch(url)).json(); last = JSON.stringify(body).slice(0, 400); if (test(body)) process.exit(0); } catch (e) { last = String(e); }
        await new Promise((r) => setTimeout(r, 500));
      }
      console.log(`not within ${seconds} s: ${expr} on ${url}; last: ${last}`);
      process.exit(1);
    })();' "$@"
}
fail=0
until_json 90 'body.polls >= 2' "$double/bots/pi1" && echo "the bot polls the double" || fail=1
if ((fail == 0)); then
  # A task writes where the chart gives it room (and, restricted, cannot write to the root).
  task='set -e; echo t >"${TMPDIR:-/tmp}/task-tmp"; mkdir -p "$HOME/.cache"; echo t >"$HOME/.cache/task-home"; echo t >task-cwd'
  if [[ ${mode[supervisor]:-} == restricted ]]; then
    task+='; if touch /opt/rpi-swarming/task-root 2>/dev/null; then echo "root filesystem writable"; exit 3; fi'
  fi
  node -e 'fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ botId: "pi1", cmd: "run", taskId: "restricted-1", command: ["sh", "-c", process.argv[2]] }) })
      .then((r) => { if (!r.ok) process.exit(1); })' "$double/_double/enqueue" "$task"
  until_json 90 'body.tasks.some((t) => t.id === "restricted-1" && !["pending", "running"].includes(t.status))' \
    "$double/_double/tasks" || fail=1
  if until_json 1 'body.tasks.some((t) => t.id === "restricted-1" && t.status === "completed" && t.exitCode === 0)' \
    "$double/_double/tasks"; then
    echo "a task wrote to /tmp, HOME and its work dir${mode[supervisor]/restricted/, and not to the root}"
  else
    echo "the task failed:"; node -e 'fetch(process.argv[1]).then((r) => r.json()).then((b) => console.log(b.tasks))' "$double/_double/tasks"
    fail=1
  fi
fi
# The state server's adb (device android) must start its server there: it writes ~/.android and /tmp.
if [[ -n ${mode[state-server]:-} ]] && command -v adb >/dev/null; then
  # Its own port: the state server of an android device may run one already.
  adb_port=(adb -P 5099)
  if in_container state-server "${adb_port[@]}" start-server >"$logs/adb.log" 2>&1 &&
    in_container state-server "${adb_port[@]}" devices >>"$logs/adb.log" 2>&1; then
    echo "adb starts its server in the state server's container"
  else
    echo "adb cannot start its server in the state server's container:"; cat "$logs/adb.log"; fail=1
  fi
  in_container state-server "${adb_port[@]}" kill-server >/dev/null 2>&1 || true
fi
for c in "${containers[@]}"; do kill -TERM "${pids[$c]}" 2>/dev/null || true; done
for c in "${containers[@]}"; do
  if wait "${pids[$c]}"; then echo "$c stopped with exit code 0"; else echo "$c exited with $?"; fail=1; fi
done
if grep -HniE 'EROFS|EACCES|read-only file system|permission denied' "$logs"/*.log; then
  echo "a write or an access was refused (above)"
  fail=1
fi
if ((fail)); then
  for f in "$logs"/*.log; do echo "--- $f"; tail -15 "$f"; done
fi
exit "$fail"
