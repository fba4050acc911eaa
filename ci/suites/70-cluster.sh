#!/usr/bin/env bash
# Cluster suite: the chart installed with `helm upgrade --install` on a real
# single-node Kubernetes (ci/cluster/: etcd, kube-apiserver on 127.0.0.1,
# controller-manager, scheduler, containerd, kubelet, kube-proxy, CoreDNS,
# CNI bridge; all on this machine). The pod is the image the image suite
# built (localhost/rpi-swarming:ci-amd64; built here when absent), with the
# simulated phone, its bot talking to the Swarming double on the node's
# address. Checks: install to Ready, bot registration, helm test, scheduling
# by node labels, a low-battery fault, rolling and OnDelete upgrades that do
# not cut a running task, Prometheus pod discovery of both containers and
# the dashboards' metrics, and a clean uninstall. The cluster is torn down on
# any exit. Writes "<passed> <failed>" to $1; runnable alone (as root):
#   bash ci/suites/70-cluster.sh /tmp/counts
# Env: RPI_SWARMING_SKIP_CLUSTER=1  skip the whole suite (it says so);
#      RPI_SWARMING_CLUSTER_KEEP=1  leave the cluster running at the end (stop: bash ci/cluster/down.sh);
#      RPI_SWARMING_CLUSTER_SET=k=v[,k=v]  extra chart values for the release.
# shellcheck disable=SC2016 # node -e scripts run inside the pod
# shellcheck disable=SC2317 # helpers called through wait_until
set -uo pipefail
out=${1:-/dev/null}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

if [[ "${RPI_SWARMING_SKIP_CLUSTER:-}" == "1" ]]; then
  echo "################################################################################"
  echo "cluster: SKIPPED because RPI_SWARMING_SKIP_CLUSTER=1: the chart was NOT installed"
  echo "on a real Kubernetes (no helm upgrade --install, helm test, rollout or Prometheus"
  echo "discovery checks ran)"
  echo "################################################################################"
  echo "0 0" >"$out"
  exit 0
fi

export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"
# shellcheck source=ci/cluster/common.sh
source ci/cluster/common.sh

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/     | /' | tail -n 40; }
finish() { echo "$passed $failed" >"$out"; exit 0; }

if [[ $(id -u) -ne 0 ]]; then
  fail "cluster: the cluster suite needs root (kubelet, containerd, network setup); set RPI_SWARMING_SKIP_CLUSTER=1 to skip it"
  finish
fi

release=rpisw
namespace=rpi-swarming-ci
image=localhost/rpi-swarming:ci-amd64
label=rpi-swarming/device-type
double_port=18080
double_url=http://$cluster_node_ip:$double_port
bot_id=ci-$cluster_node
helm_values=(-f chart/values-android.yaml -f ci/cluster/values-ci.yaml --set "swarming.server=$double_url")
# RPI_SWARMING_CLUSTER_SET=k=v[,k=v]: extra chart values, e.g. supervisor.shutdownGraceSeconds=5
# (a grace period shorter than the task) to see the no-cut checks fail.
[[ -n ${RPI_SWARMING_CLUSTER_SET:-} ]] && helm_values+=(--set "$RPI_SWARMING_CLUSTER_SET")
tmp=$(mktemp -d)
double_pid="" prom_pid="" discover_pid=""
export KUBECONFIG=$cluster_kubeconfig

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local p
  for p in "$prom_pid" "$discover_pid" "$double_pid"; do
    [[ -n $p ]] && kill -TERM "$p" 2>/dev/null && { timeout 10 tail --pid="$p" -f /dev/null || kill -KILL "$p" 2>/dev/null; }
  done
  if [[ "${RPI_SWARMING_CLUSTER_KEEP:-}" == "1" ]]; then
    echo "cluster left running (RPI_SWARMING_CLUSTER_KEEP=1): stop it with bash ci/cluster/down.sh"
  elif ! o=$(bash ci/cluster/down.sh 2>&1); then
    fail "teardown leaves nothing behind" "$o"
    echo "$passed $failed" >"$out"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until SECONDS CMD...: polls CMD every second until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
k() { "$cluster_bin/kubectl" -n "$namespace" "$@"; }
helm_() { helm --kube-context rpi-swarming-ci -n "$namespace" "$@"; }
dget() { curl -fsS --max-time 10 "$double_url$1"; }
dpost() { curl -fsS --max-time 10 -H 'content-type: application/json' --data "$2" "$double_url$1"; }
# jq-like checks with python: pyjson EXPR reads JSON on stdin as `d`, exits 1 when EXPR is false.
pyjson() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
bot_json() { dget "/bots/$bot_id"; }
pods_json() { k get pods -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=bot" -o json; }
pod_name() { k get pods -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=bot" -o jsonpath='{.items[*].metadata.name}'; }
bot_pods_count() { pods_json | python3 -c 'import json,sys; print(len([p for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp")]))'; }
# One pod, Ready, not terminating, optionally not named $1.
one_ready_pod() {
  pods_json | python3 -c '
import json, sys
old = sys.argv[1]
pods = [p for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp")]
ok = len(pods) == 1 and pods[0]["metadata"]["name"] != old and any(
    c["type"] == "Ready" and c["status"] == "True" for c in pods[0]["status"].get("conditions", []))
sys.exit(0 if ok else 1)' "${1:-}"
}
no_bot_pods() { [[ "$(pods_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" == 0 ]]; }
diag() {
  {
    k get pods -o wide 2>&1
    k describe pods -l "app.kubernetes.io/instance=$release" 2>&1 | tail -n 30
    tail -n 5 "$cluster_logs/kubelet.log" 2>&1
  } | tail -n 40
}
# Bot polled the double after time $1 (epoch seconds).
bot_polled_after() {
  bot_json | python3 -c '
import json, sys, datetime
d = json.load(sys.stdin)
t = datetime.datetime.fromisoformat(d["lastSeen"].replace("Z", "+00:00")).timestamp()
sys.exit(0 if t > float(sys.argv[1]) else 1)' "$1"
}

# --- build, image, cluster --------------------------------------------------------
t=$(now)
if o=$(bash ci/cluster/build.sh 2>&1); then
  pass "cluster binaries built or cached ($(since "$t") s) [$KUBE_VERSION, etcd $ETCD_VERSION, CoreDNS $COREDNS_VERSION]"
else
  fail "cluster binaries build" "$o"
  finish
fi
if ! podman image exists "$image"; then
  echo "image $image absent (image suite skipped?): building it with ci/images/build-local.sh"
  if ! o=$(bash ci/images/build-local.sh --platform linux/amd64 --tag localhost/rpi-swarming:ci 2>&1); then
    fail "build $image" "$o"
    finish
  fi
fi
t=$(now)
if o=$(bash ci/cluster/up.sh 2>&1); then
  pass "cluster starts and node $cluster_node is Ready ($(since "$t") s; $(tr '\n' ' ' <"$cluster_run/start-times"))"
else
  fail "cluster starts and node $cluster_node is Ready" "$o"
  finish
fi
t=$(now)
if o=$(podman save -q --format docker-archive -o "$tmp/image.tar" "$image" 2>&1 &&
  cctr images import --platform linux/amd64 "$tmp/image.tar" 2>&1); then
  pass "image $image imported into the node's containerd ($(since "$t") s)"
else
  fail "image $image imported into the node's containerd" "$o"
  finish
fi
rm -f "$tmp/image.tar"

# --- the Swarming double on the node's address -------------------------------------
node packages/cli/bin/rpi-swarming.js swarming-double --double-host "$cluster_node_ip" --double-port "$double_port" \
  --hook-script packages/swarming-hooks/bot_config.py --server-dimension pool=ci-cluster \
  --work-dir "$tmp/double" >"$tmp/double.log" 2>&1 &
double_pid=$!
if wait_until 30 dget /_double/state; then
  pass "Swarming double listens on $double_url"
else
  fail "Swarming double listens on $double_url" "$(tail -n 20 "$tmp/double.log")"
  finish
fi

# --- install ---------------------------------------------------------------------------
ckubectl label node "$cluster_node" "$label=android" >/dev/null
t=$(now)
if o=$(helm_ upgrade --install "$release" chart "${helm_values[@]}" --create-namespace --wait --timeout 3m 2>&1) &&
  wait_until 120 one_ready_pod; then
  install_s=$(since "$t")
  pass "helm upgrade --install with values-android.yaml + ci values: pod Running and Ready in $install_s s (bound 120 s)"
else
  fail "helm upgrade --install: pod Running and Ready within 120 s" "$o$(diag)"
  finish
fi
pod=$(pod_name)
o=$(k get pod "$pod" -o jsonpath='{range .status.containerStatuses[*]}{.name}={.ready} {end}')
if [[ $o == *"state-server=true"* && $o == *"supervisor=true"* ]]; then pass "both containers ready ($o)"; else fail "both containers ready" "$o"; fi

# The bot registers with the dimensions the state server reports, id from the node name.
if wait_until 90 bash -c "curl -fsS '$double_url/bots/$bot_id' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"polls\"] > 0 and d[\"dimensions\"].get(\"device_type\") else 1)'"; then
  pass "bot $bot_id (prefix + node name) registered and polling in the double"
else
  fail "bot $bot_id registered and polling in the double" "$(dget /bots 2>&1 | head -c 2000; k logs "$pod" -c supervisor --tail 20 2>&1)"
fi
state_dims=$(k exec "$pod" -c state-server -- node -e '
fetch("http://127.0.0.1:11000/get_dimensions", { method: "POST", headers: { "content-type": "application/json", "x-swarming-bot-id": process.argv[1] }, body: "{}" })
  .then((r) => r.text()).then((t) => console.log(t))' "$bot_id" 2>&1)
if o=$(bot_json | python3 -c '
import json, sys
bot = json.load(sys.stdin)["dimensions"]
state = json.loads(sys.argv[1])
bad = [f"{k}: state server {v}, double {bot.get(k)}" for k, v in state.items() if k != "pool" and bot.get(k) != v]
assert state.get("id") == [sys.argv[2]], "id " + repr(state.get("id"))
assert state.get("device_type") == ["flame"], "device_type " + repr(state.get("device_type"))
print("\n".join(bad)); sys.exit(1 if bad else 0)' "$state_dims" "$bot_id" 2>&1); then
  pass "the double has the dimensions the state server reports (device_type=flame, id=$bot_id, ...)"
else
  fail "the double has the dimensions the state server reports" "$o
state server: $state_dims"
fi

if o=$(helm_ test "$release" --timeout 3m 2>&1); then
  pass "helm test $release passes (Service name resolved by CoreDNS, both processes answer)"
else
  fail "helm test $release passes" "$o$(k logs "$release-rpi-swarming-test" 2>&1 | tail -n 20)"
fi

# --- Prometheus: pods discovered from this API server --------------------------------
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CLUSTER_RELEASE=$release CLUSTER_NAMESPACE=$namespace CLUSTER_NODE=$cluster_node \
  CLUSTER_VALUES=chart/values-android.yaml,ci/cluster/values-ci.yaml \
  CLUSTER_SET="swarming.server=$double_url${RPI_SWARMING_CLUSTER_SET:+,$RPI_SWARMING_CLUSTER_SET}" \
  CLUSTER_API_SERVER=$cluster_apiserver CLUSTER_CA=$cluster_var/pki/ca.crt \
  CLUSTER_CERT=$cluster_var/pki/admin.crt CLUSTER_KEY=$cluster_var/pki/admin.key
prom_ts() { node --conditions=source --import tsx test/cluster/prometheus.ts "$@"; }
# Debian's Prometheus 2.42 is built without kubernetes_sd_configs: prometheus.ts discover lists
# the pods from this API server and writes the labels Kubernetes pod discovery gives them.
# Started as node itself (not through the prom_ts function, whose background subshell
# would get the pid and leave node running after the cleanup's kill).
node --conditions=source --import tsx test/cluster/prometheus.ts discover "$tmp/pods-sd.json" 2>"$tmp/discover.log" &
discover_pid=$!
if o=$(prom_ts config "$tmp/prometheus.yml" "$tmp/pods-sd.json" 2>&1) && o+=$(promtool check config "$tmp/prometheus.yml" 2>&1); then
  prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
  prom_pid=$!
  wait_until 30 curl -fsS "http://127.0.0.1:$prom_port/-/ready" || fail "prometheus starts" "$(tail -n 20 "$tmp/prometheus.log")"
else
  fail "Prometheus config from the rendered PodMonitor (pod discovery from the API server)" "$o"
fi

# --- scheduling by node labels -----------------------------------------------------------
ckubectl label node "$cluster_node" "$label-" >/dev/null
if wait_until 120 no_bot_pods; then
  pass "node without the $label label: the DaemonSet removes its pod"
else
  fail "node without the $label label: the DaemonSet removes its pod" "$(diag)"
fi
ckubectl label node "$cluster_node" "$label=android" node-role.kubernetes.io/control-plane= >/dev/null
# A negative: nothing may appear while the DaemonSet controller sees the labelled control-plane node.
sched_ok=1
for _ in $(seq 10); do
  [[ $(bot_pods_count) == 0 ]] || { sched_ok=0; break; }
  sleep 1
done
ds_desired=$(k get ds -l "app.kubernetes.io/instance=$release" -o jsonpath='{.items[*].status.desiredNumberScheduled}')
if ((sched_ok)) && [[ $ds_desired == 0 ]]; then
  pass "device-type label on a control-plane node: no pod (desiredNumberScheduled 0 for 10 s)"
else
  fail "device-type label on a control-plane node: no pod" "desired=$ds_desired $(diag)"
fi
ckubectl label node "$cluster_node" node-role.kubernetes.io/control-plane- >/dev/null
t=$(now)
if wait_until 120 one_ready_pod "$pod"; then
  pass "control-plane label removed: the DaemonSet schedules a pod again, Ready in $(since "$t") s"
else
  fail "control-plane label removed: the DaemonSet schedules a pod again" "$(diag)"
fi
pod=$(pod_name)

# --- fault: low battery through the simulated phone's control interface ------------------
control() {
  k exec "$pod" -c state-server -- node -e '
fetch("http://127.0.0.1:11001/control", { method: "POST", headers: { "content-type": "application/json" }, body: process.argv[1] })
  .then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); })' "$1" 2>&1
}
in_maintenance() { bot_json | pyjson 'd.get("maintenance") and "batter" in d["maintenance"].lower()'; }
available() { bot_json | pyjson 'not d.get("maintenance") and not d.get("quarantined")'; }
wait_until 60 available || true
if o=$(control '{"batteryRatio": 0.1}') && wait_until 60 in_maintenance; then
  pass "low battery injected with kubectl exec: the double sees the bot in maintenance ($(bot_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["maintenance"])'))"
else
  fail "low battery injected: the double sees the bot in maintenance" "$o $(bot_json 2>&1 | head -c 1500)"
fi
if o=$(control '{"batteryRatio": 0.9}') && wait_until 60 available; then
  pass "battery recovered: the bot is available again"
else
  fail "battery recovered: the bot is available again" "$o $(bot_json 2>&1 | head -c 1500)"
fi

# An offline phone: the state server's recovery ladder reconnects it (counted in its metrics).
recoveries() {
  k exec "$pod" -c state-server -- node -e '
fetch("http://127.0.0.1:20001/metrics").then((r) => r.text()).then((t) => {
  const n = t.split("\n").filter((l) => l.startsWith("rpi_swarming_recovery_actions_total{")).reduce((a, l) => a + Number(l.split(" ").pop()), 0);
  console.log(n);
})' 2>/dev/null
}
recovered() { (($(recoveries) > 0)); }
if o=$(control '{"offline": true}') && wait_until 90 recovered; then
  pass "offline phone: the state server's recovery ladder acts ($(recoveries) recovery action(s) counted)"
else
  fail "offline phone: the state server's recovery ladder acts" "$o $(k logs "$pod" -c state-server --tail 10 2>&1)"
fi
control '{"offline": false}' >/dev/null
wait_until 90 available || true
# An unplugged phone: quarantined, then back.
quarantined() { bot_json | pyjson 'd.get("quarantined")'; }
if o=$(control '{"unplugged": true}') && wait_until 90 quarantined; then
  pass "unplugged phone: the double sees the bot quarantined ($(bot_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["quarantined"])'))"
else
  fail "unplugged phone: the double sees the bot quarantined" "$o $(bot_json 2>&1 | head -c 1500)"
fi
if o=$(control '{"unplugged": false}') && wait_until 90 available; then
  pass "phone plugged in again: the bot is available again"
else
  fail "phone plugged in again: the bot is available again" "$o $(bot_json 2>&1 | head -c 1500)"
fi

# --- power cycling: the ladder's last rung, and the operator's one-shot in the pod ---------
# The command controller, its commands switching the simulated phone's "cable" through its
# control interface: the settings go through the chart into the pod, the state server runs
# them with no shell, and the phone comes back without a hand on the cable.
switch_js='fetch("http://127.0.0.1:11001/control", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ unplugged: process.argv[1] === "off" }) }).then((r) => process.exit(r.ok ? 0 : 1))'
cat >"$tmp/power-values.yaml" <<EOF_VALUES
stateServer:
  powerController: command
  powerOffCommand: [node, -e, '$switch_js', "off"]
  powerOnCommand: [node, -e, '$switch_js', "on"]
  powerOffSeconds: 1
  powerSettleSeconds: 60
EOF_VALUES
power_cycles() {
  k exec "$pod" -c state-server -- node -e '
fetch("http://127.0.0.1:20001/metrics").then((r) => r.text()).then((t) => {
  const line = t.split("\n").find((l) => l.startsWith("rpi_swarming_device_power_cycles_total{result=\"ok\""));
  console.log(line ? Number(line.split(" ").pop()) : -1);
})' 2>/dev/null
}
power_cycled() { (($(power_cycles) >= $1)); }
helm_ upgrade "$release" chart "${helm_values[@]}" -f "$tmp/power-values.yaml" --timeout 3m >/dev/null 2>&1
if wait_until 180 one_ready_pod "$pod" && pod=$(pod_name) && wait_until 90 available; then
  if o=$(control '{"unplugged": true}') && wait_until 120 power_cycled 1 && wait_until 120 available; then
    pass "powerController command: an unplugged phone is power-cycled by the ladder and the bot is available again ($(power_cycles) cycle(s) ok)"
  else
    fail "powerController command: the ladder power-cycles an unplugged phone" "$o $(k logs "$pod" -c state-server --tail 15 2>&1) $(bot_json 2>&1 | head -c 800)"
  fi
  # The operator's one-shot: refused within the cool-down, done with --force.
  if o=$(k exec "$pod" -c state-server -- rpi-swarming power-cycle --reason ci 2>&1); then
    fail "rpi-swarming power-cycle in the pod is refused within the cool-down" "exit 0: $o"
  elif [[ $o == *429* || $o == *cool* ]]; then
    pass "rpi-swarming power-cycle in the pod is refused within the cool-down ($(tr '\n' ' ' <<<"$o" | head -c 160))"
  else
    fail "rpi-swarming power-cycle in the pod is refused within the cool-down" "$o"
  fi
  # /metrics is rendered at most once a second: the count may take that long to show.
  if o=$(k exec "$pod" -c state-server -- rpi-swarming power-cycle --force --wait --reason ci 2>&1) && wait_until 10 power_cycled 2; then
    pass "rpi-swarming power-cycle --force --wait in the pod: cycled and healthy again ($(power_cycles) cycle(s) ok)"
  else
    fail "rpi-swarming power-cycle --force --wait in the pod" "$o $(k logs "$pod" -c state-server --tail 15 2>&1)"
  fi
  wait_until 90 available || true
else
  fail "helm upgrade with powerController command: pod Ready and available" "$(diag)"
fi
pod=$(pod_name)

# --- upgrades that must not cut a running task -----------------------------------------------
# task_status ID: status/exit code of the task in the double.
task_field() { dget /_double/tasks | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin)["tasks"] if t["id"] == sys.argv[1]]
print(t[0].get(sys.argv[2]) if t else "")' "$1" "$2"; }
task_running() { [[ $(task_field "$1" status) == running ]]; }
task_done() { [[ $(task_field "$1" status) != running && $(task_field "$1" status) != pending && -n $(task_field "$1" status) ]]; }
start_task() {
  dpost /_double/enqueue "{\"botId\": \"$bot_id\", \"cmd\": \"run\", \"taskId\": \"$1\", \"hardTimeoutSeconds\": 600, \"command\": [\"python3\", \"-c\", \"import time; time.sleep(60); print('task finished')\"]}" >/dev/null &&
    wait_until 60 task_running "$1"
}
# check_task_survived ID WHAT
check_task_survived() {
  local st code
  wait_until 150 task_done "$1"
  st=$(task_field "$1" status) code=$(task_field "$1" exitCode)
  if [[ $st == completed && $code == 0 && "$(task_field "$1" output)" == *"task finished"* ]]; then
    pass "$2: the 60 s task completed (status $st, exit $code), not cut"
  else
    fail "$2: the 60 s task completed, not cut" "status=$st exit=$code $(dget /_double/tasks | head -c 1500)"
  fi
}

# Without a task first: the rollout time per pod for an idle bot.
t=$(now)
helm_ upgrade "$release" chart "${helm_values[@]}" --set podAnnotations.ci-rollout=idle --timeout 3m >/dev/null 2>&1
if wait_until 180 one_ready_pod "$pod"; then
  rollout_idle_s=$(since "$t")
  pass "rolling upgrade of an idle bot: new pod Ready in $rollout_idle_s s"
else
  fail "rolling upgrade of an idle bot" "$(diag)"
fi
pod=$(pod_name)
wait_until 60 bot_polled_after "$(date +%s)" || true

if start_task ci-rolling; then
  t=$(now)
  helm_ upgrade "$release" chart "${helm_values[@]}" --set podAnnotations.ci-rollout=task --timeout 5m >/dev/null 2>&1
  check_task_survived ci-rolling "RollingUpdate with a running task"
  if wait_until 180 one_ready_pod "$pod"; then
    rollout_task_s=$(since "$t")
    pass "RollingUpdate with a running task: the new pod is Ready $rollout_task_s s after helm upgrade"
  else
    fail "RollingUpdate with a running task: the new pod is Ready" "$(diag)"
  fi
  ready_at=$(date +%s)
  if wait_until 90 bot_polled_after "$ready_at"; then pass "RollingUpdate: the new pod's bot polls the double again"; else fail "RollingUpdate: the new pod's bot polls the double again" "$(bot_json | head -c 1000)"; fi
else
  fail "a 60 s task starts on $bot_id" "$(dget /_double/tasks | head -c 1500)"
fi
pod=$(pod_name)

# OnDelete: an upgrade leaves the pod (and its task) alone until the pod is deleted.
helm_ upgrade "$release" chart "${helm_values[@]}" --set updateStrategy.type=OnDelete --set podAnnotations.ci-rollout=task --timeout 3m >/dev/null 2>&1
wait_until 60 bot_polled_after "$(date +%s)" || true
if start_task ci-ondelete; then
  helm_ upgrade "$release" chart "${helm_values[@]}" --set updateStrategy.type=OnDelete --set podAnnotations.ci-rollout=ondelete --timeout 3m >/dev/null 2>&1
  gen=$(k get ds -l "app.kubernetes.io/instance=$release" -o jsonpath='{.items[0].metadata.generation}')
  wait_until 30 bash -c "[[ \$('$cluster_bin/kubectl' -n '$namespace' get ds -l 'app.kubernetes.io/instance=$release' -o jsonpath='{.items[0].status.observedGeneration}') == '$gen' ]]"
  if [[ $(pod_name) == "$pod" && $(task_field ci-ondelete status) == running ]]; then
    pass "OnDelete: helm upgrade leaves the running pod and its task alone"
  else
    fail "OnDelete: helm upgrade leaves the running pod and its task alone" "pod $(pod_name) (was $pod) task $(task_field ci-ondelete status)"
  fi
  t=$(now)
  k delete pod "$pod" --wait=false >/dev/null
  check_task_survived ci-ondelete "OnDelete with a manual pod delete"
  if wait_until 180 one_ready_pod "$pod"; then
    pass "OnDelete: the replacement pod is Ready $(since "$t") s after kubectl delete pod"
  else
    fail "OnDelete: the replacement pod is Ready" "$(diag)"
  fi
  pod=$(pod_name)
  o=$(k get pod "$pod" -o jsonpath='{.metadata.annotations.ci-rollout}')
  if [[ $o == ondelete ]]; then
    pass "OnDelete: the replacement pod has the upgraded template"
  else
    fail "OnDelete: the replacement pod has the upgraded template" "annotation ci-rollout=$o"
  fi
  if wait_until 90 bot_polled_after "$(date +%s)"; then pass "OnDelete: the new pod's bot polls the double again"; else fail "OnDelete: the new pod's bot polls the double again"; fi
else
  fail "a 60 s task starts on $bot_id (OnDelete)" "$(dget /_double/tasks | head -c 1500)"
fi

# --- memory of both containers from the kubelet's /metrics/resource ----------------------------
mem=$(ckubectl get --raw "/api/v1/nodes/$cluster_node/proxy/metrics/resource" 2>&1 |
  awk -v p="$pod" '/^container_memory_working_set_bytes/ && index($0, "pod=\"" p "\"") {
    match($0, /container="[^"]*"/); c = substr($0, RSTART + 11, RLENGTH - 12); printf "%s %.1f MB; ", c, $2 / 1e6 }')
if [[ $mem == *supervisor* && $mem == *state-server* ]]; then
  pass "kubelet /metrics/resource working set: $mem"
else
  fail "kubelet /metrics/resource reports both containers" "$mem"
fi

# --- the linux/arm/v7 image as the pod, under QEMU user emulation ---------------------------
# The image suite builds it (localhost/rpi-swarming:ci-armv7); without it this part says so.
arm_image=localhost/rpi-swarming:ci-armv7
if podman image exists "$arm_image"; then
  t=$(now)
  # shellcheck source=ci/images/common.sh
  if o=$(source ci/images/common.sh && images_register_qemu 2>&1 &&
    podman save -q --format docker-archive -o "$tmp/arm.tar" "$arm_image" 2>&1 &&
    cctr images import --platform linux/arm/v7 "$tmp/arm.tar" 2>&1); then
    pass "arm/v7: image imported ($(since "$t") s; qemu-arm registered in binfmt_misc)"
    rm -f "$tmp/arm.tar"
    t=$(now)
    helm_ upgrade "$release" chart "${helm_values[@]}" --set updateStrategy.type=RollingUpdate --set image.tag=ci-armv7 --timeout 3m >/dev/null 2>&1
    if wait_until 300 one_ready_pod "$pod"; then
      arm_ready_s=$(since "$t")
      pod=$(pod_name)
      o="$(k exec "$pod" -c supervisor -- uname -m 2>&1) $(k exec "$pod" -c state-server -- uname -m 2>&1)"
      if [[ $o == "armv7l armv7l" ]]; then
        pass "arm/v7: the armv7 image runs as the pod on this x86_64 node (uname -m armv7l in both containers), Ready $arm_ready_s s after helm upgrade"
      else
        fail "arm/v7: uname -m is armv7l in both containers" "$o"
      fi
      if wait_until 120 bot_polled_after "$(date +%s)"; then pass "arm/v7: the bot polls the double"; else fail "arm/v7: the bot polls the double" "$(bot_json | head -c 1000)"; fi
    else
      fail "arm/v7: the armv7 pod is Ready within 300 s" "$(diag)"
    fi
  else
    fail "arm/v7: image import" "$o"
  fi
else
  echo "arm/v7: SKIPPED: $arm_image is absent (the image suite, 60-images, builds it)"
fi

# --- Prometheus checks (after the faults and upgrades, so their series exist) ---------------------
if [[ -n $prom_pid ]]; then
  if wait_until 60 prom_ts check "http://127.0.0.1:$prom_port"; then
    pass "Prometheus (pods discovered from the API server, PodMonitor relabelling) scrapes both containers; every dashboard metric has series"
  else
    fail "Prometheus scrapes both containers and has every dashboard metric" "$(prom_ts check "http://127.0.0.1:$prom_port" 2>&1 | tail -n 30)"
  fi
fi

# --- uninstall ---------------------------------------------------------------------------------------
if o=$(helm_ uninstall "$release" --wait --timeout 3m 2>&1) && wait_until 120 no_bot_pods; then
  left=$(k get all,configmaps,secrets,serviceaccounts,roles,rolebindings -o name 2>&1 | grep -v -e '^configmap/kube-root-ca.crt$' -e '^serviceaccount/default$')
  if [[ -z $left ]]; then
    pass "helm uninstall leaves nothing of the release (no pods, config maps, secrets)"
  else
    fail "helm uninstall leaves nothing of the release" "$left"
  fi
else
  fail "helm uninstall" "$o$(diag)"
fi

# --- figures ---------------------------------------------------------------------------------------
{
  echo "install_to_ready_s ${install_s:-}"
  echo "rollout_idle_s ${rollout_idle_s:-}"
  echo "rollout_with_task_s ${rollout_task_s:-}"
  echo "arm_rollout_to_ready_s ${arm_ready_s:-}"
  echo "pod_memory $mem"
} | tee "$cluster_cache/last-figures" | sed 's/^/figure: /'
finish
