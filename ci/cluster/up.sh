#!/usr/bin/env bash
# Starts the single-node test cluster and waits until its node is Ready:
# etcd, kube-apiserver (127.0.0.1:6443), controller-manager, scheduler,
# containerd (Debian's), kubelet, kube-proxy and CoreDNS, with a CNI bridge.
# Everything stays on this machine: the node address sits on a port-less
# bridge of our own, pods get a bridge and a /24 of our own, and an
# iptables chain of ours drops any pod traffic forwarded off that /24.
# Builds the binaries first (cached: ci/cluster/build.sh). On any failure it
# tears down what it started (ci/cluster/down.sh).
# Usage (root): bash ci/cluster/up.sh    then: export KUBECONFIG=/var/lib/rpi-swarming-cluster/pki/admin.kubeconfig
# Stop: bash ci/cluster/down.sh
set -euo pipefail
# shellcheck source=ci/cluster/common.sh
source "$(dirname "$0")/common.sh"

if [[ $(id -u) -ne 0 ]]; then
  clog "needs root (kubelet, containerd, network and cgroup setup)"
  exit 2
fi
for tool in containerd ctr runc iptables openssl podman ip; do
  command -v "$tool" >/dev/null || { clog "'$tool' is missing: run bash ci/install-tools.sh"; exit 2; }
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  { clog "CNI plugins are missing in /usr/lib/cni: run bash ci/install-tools.sh (containernetworking-plugins)"; exit 2; }

bash "$cluster_here/build.sh"

# A previous run that died without its teardown is cleaned first.
if [[ -d $cluster_run || -d $cluster_var ]]; then
  clog "leftovers of an earlier cluster found: tearing them down first"
  bash "$cluster_here/down.sh"
fi
# shellcheck disable=SC2317 # called by the EXIT trap
on_exit() {
  local rc=$?
  ((rc == 0)) && return
  clog "start failed (exit $rc): tearing down; the last lines of each log:"
  tail -n 15 "$cluster_logs"/*.log 2>/dev/null | sed 's/^/  /' >&2
  bash "$cluster_here/down.sh"
}
trap on_exit EXIT
t_start=$(date +%s.%N)
mkdir -p "$cluster_pids" "$cluster_logs" "$cluster_var"/{pki,etcd,kubelet,containerd,cni/net.d,cni/ipam,pod-logs,opt}

# start NAME CMD...: runs CMD in its own session, output to its log, pid recorded.
start() {
  local name=$1
  shift
  setsid "$@" >"$cluster_logs/$name.log" 2>&1 </dev/null &
  echo $! >"$cluster_pids/$name.pid"
}
# wait_for WHAT SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
  local what=$1 secs=$2 deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) > deadline)); then clog "$what not reached within $secs s"; return 1; fi
    sleep 0.2
  done
}
alive() { pid_alive "$1" || { clog "$1 exited: $(tail -n 5 "$cluster_logs/$1.log")"; return 1; }; }

# --- network: node address, pod traffic kept local ------------------------------
# A bridge without ports: a dummy interface (no dummy module on these VMs).
ip link add "$cluster_node_if" type bridge
ip addr add "$cluster_node_ip/32" dev "$cluster_node_if"
ip link set "$cluster_node_if" up
cat /proc/sys/net/ipv4/ip_forward >"$cluster_run/ip_forward.before"
# Service IPs DNAT to pods on the bridge: that is forwarding (within our /24 only).
echo 1 >/proc/sys/net/ipv4/ip_forward
iptables -w -N "$cluster_fw_chain"
iptables -w -A "$cluster_fw_chain" -s "$cluster_pod_cidr" -d "$cluster_pod_cidr" -j ACCEPT
iptables -w -A "$cluster_fw_chain" -s "$cluster_pod_cidr" -j DROP
iptables -w -A "$cluster_fw_chain" -d "$cluster_pod_cidr" ! -s "$cluster_pod_cidr" -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP
iptables -w -I FORWARD 1 -j "$cluster_fw_chain"

# --- certificates (one CA) and kubeconfigs -------------------------------------
pki=$cluster_var/pki
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=rpi-swarming-cluster-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt"
# cert NAME SUBJECT [SANS]
cert() {
  local name=$1 subj=$2 sans=${3:-}
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$pki/$name.ext"
  ossl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3 -extfile "$pki/$name.ext" -out "$pki/$name.crt"
}
kubernetes_svc_ip=$(awk -F'[./]' '{ print $1 "." $2 "." $3 "." $4 + 1 }' <<<"$cluster_service_cidr")
cert apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$cluster_node_ip,IP:$kubernetes_svc_ip"
cert admin "/O=system:masters/CN=admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"
cert kubelet "/O=system:nodes/CN=system:node:$cluster_node" "DNS:$cluster_node,IP:$cluster_node_ip,IP:127.0.0.1"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
ossl genrsa -out "$pki/sa.key" 2048
ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
kubeconfig() { # NAME CERT
  cat >"$pki/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: rpi-swarming-ci
  cluster: {server: $cluster_apiserver, certificate-authority: $pki/ca.crt}
users:
- name: $1
  user: {client-certificate: $pki/$2.crt, client-key: $pki/$2.key}
contexts:
- name: rpi-swarming-ci
  context: {cluster: rpi-swarming-ci, user: $1}
current-context: rpi-swarming-ci
YAML
}
for n in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$n" "$n"; done

# --- control plane -------------------------------------------------------------
start etcd "$cluster_bin/etcd" --name rpisw --data-dir "$cluster_var/etcd" \
  --listen-client-urls "http://127.0.0.1:$cluster_etcd_port" --advertise-client-urls "http://127.0.0.1:$cluster_etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$cluster_etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$cluster_etcd_peer_port" \
  --initial-cluster "rpisw=http://127.0.0.1:$cluster_etcd_peer_port" --listen-metrics-urls "" --log-level warn
start kube-apiserver "$cluster_bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$cluster_etcd_port" \
  --bind-address 127.0.0.1 --secure-port 6443 --advertise-address "$cluster_node_ip" \
  --service-cluster-ip-range "$cluster_service_cidr" --service-node-port-range 30000-32767 \
  --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --authorization-mode Node,RBAC --allow-privileged=true --enable-priority-and-fairness=false \
  --profiling=false --v=1
# The controller-manager started before /readyz exits on an RBAC race.
wait_for "kube-apiserver /readyz" 90 bash -c "alive() { kill -0 \$(cat '$cluster_pids/kube-apiserver.pid'); }; alive && curl -fsS --cacert '$pki/ca.crt' --cert '$pki/admin.crt' --key '$pki/admin.key' '$cluster_apiserver/readyz'" ||
  { alive kube-apiserver; alive etcd; exit 1; }
t_apiserver=$(date +%s.%N)
start kube-controller-manager "$cluster_bin/kube-controller-manager" --kubeconfig "$pki/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$pki/controller-manager.kubeconfig" --authorization-kubeconfig "$pki/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --service-cluster-ip-range "$cluster_service_cidr" --allocate-node-cidrs=false --profiling=false
start kube-scheduler "$cluster_bin/kube-scheduler" --kubeconfig "$pki/scheduler.kubeconfig" \
  --authentication-kubeconfig "$pki/scheduler.kubeconfig" --authorization-kubeconfig "$pki/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false

# --- containerd, CNI, sandbox image ---------------------------------------------
cat >"$cluster_var/cni/net.d/10-rpisw.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "rpisw",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$cluster_bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$cluster_var/cni/ipam",
        "ranges": [[{ "subnet": "$cluster_pod_cidr" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "loopback" }
  ]
}
JSON
cat >"$cluster_var/containerd.toml" <<TOML
version = 2
root = "$cluster_var/containerd"
state = "$cluster_run/containerd"
[grpc]
  address = "$cluster_containerd_sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$cluster_var/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$cluster_sandbox_image"
  # These VMs lack CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  # Pod network namespaces under our state directory (not /run/netns), so teardown finds them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$cluster_run/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cluster_var/cni/net.d"
TOML
start containerd containerd --config "$cluster_var/containerd.toml"
wait_for "containerd socket" 30 bash -c "kill -0 \$(cat '$cluster_pids/containerd.pid') && ctr --address '$cluster_containerd_sock' version" ||
  { alive containerd; exit 1; }

# The sandbox ("pause") image: nothing can be pulled, so it is built here.
pause_dir=$cluster_run/pause-image
mkdir -p "$pause_dir"
cp "$cluster_bin/pause" "$pause_dir/pause"
printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$pause_dir/Containerfile"
podman build -q --pull=never --network=none -t "$cluster_sandbox_image" -f "$pause_dir/Containerfile" "$pause_dir" >/dev/null
podman save -q --format docker-archive -o "$pause_dir/pause.tar" "$cluster_sandbox_image"
cctr images import --platform linux/amd64 "$pause_dir/pause.tar" >/dev/null
rm -rf "$pause_dir"

# --- kubelet --------------------------------------------------------------------
# Our cgroup, in every hierarchy, holds all pods (down.sh removes it).
for h in /sys/fs/cgroup/*/; do
  [[ -f $h/tasks || -f $h/cgroup.procs ]] && mkdir -p "$h$cluster_cgroup"
done
# A new v1 cpuset cgroup has no CPUs or memory nodes: give it its parent's.
if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$cluster_cgroup/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$cluster_cgroup/cpuset.mems"
fi
: >"$cluster_var/resolv.conf"
cat >"$cluster_var/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $cluster_node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
cgroupDriver: cgroupfs
cgroupRoot: /$cluster_cgroup
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$cluster_containerd_sock
clusterDNS: [$cluster_dns_ip]
clusterDomain: cluster.local
# An empty resolv.conf: pods know only the cluster's DNS (nothing off the machine).
resolvConf: $cluster_var/resolv.conf
podLogsDir: $cluster_var/pod-logs
# A busy CI disk must neither evict the suite's pods nor collect its imported images.
evictionHard: {memory.available: 50Mi, nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
rotateCertificates: false
serverTLSBootstrap: false
YAML
start kubelet "$cluster_bin/kubelet" --config "$cluster_var/kubelet.yaml" --kubeconfig "$pki/kubelet.kubeconfig" \
  --root-dir "$cluster_var/kubelet" --cert-dir "$pki" --hostname-override "$cluster_node" --node-ip "$cluster_node_ip" --v=1
t_kubelet=$(date +%s.%N)

# --- kube-proxy and CoreDNS (Services and cluster DNS) ------------------------------
cat >"$cluster_var/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $pki/kube-proxy.kubeconfig}
hostnameOverride: $cluster_node
clusterCIDR: $cluster_pod_cidr
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$cluster_node_ip/32]
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
# kube-proxy's RBAC: the built-in system:node-proxier role.
ckubectl create clusterrolebinding rpisw-kube-proxy --clusterrole system:node-proxier --user system:kube-proxy >/dev/null
start kube-proxy "$cluster_bin/kube-proxy" --config "$cluster_var/kube-proxy.yaml"
cat >"$cluster_var/Corefile" <<COREFILE
cluster.local:53 {
  bind $cluster_dns_ip
  errors
  kubernetes cluster.local {
    kubeconfig $cluster_kubeconfig
    pods insecure
  }
}
.:53 {
  # Nothing outside the cluster is answered: no forwarding off this machine.
  bind $cluster_dns_ip
  errors
}
COREFILE
start coredns "$cluster_bin/coredns" -conf "$cluster_var/Corefile"

# --- node Ready -------------------------------------------------------------------
node_ready() { [[ $(ckubectl get node "$cluster_node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }
if ! wait_for "node $cluster_node Ready" 120 node_ready; then
  for n in kubelet containerd kube-controller-manager kube-scheduler; do alive "$n" || true; done
  exit 1
fi
t_ready=$(date +%s.%N)
for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns; do alive "$n"; done
awk -v s="$t_start" -v a="$t_apiserver" -v k="$t_kubelet" -v r="$t_ready" 'BEGIN {
  printf "apiserver_ready_s %.1f\nnode_ready_after_kubelet_s %.1f\nstart_to_node_ready_s %.1f\n", a - s, r - k, r - s }' \
  | tee "$cluster_run/start-times" >&2
clog "node $cluster_node Ready; KUBECONFIG=$cluster_kubeconfig; stop with: bash ci/cluster/down.sh"
trap - EXIT
