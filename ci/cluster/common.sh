# Shared settings of the single-node test cluster (sourced by ci/cluster/*.sh).
# Every address, interface, port, directory and cgroup the cluster uses is
# named here, so teardown (down.sh) removes exactly what up.sh made.
# shellcheck shell=bash disable=SC2034
cluster_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster_root=$(cd "$cluster_here/../.." && pwd)
# shellcheck source=ci/cluster/versions.sh
source "$cluster_here/versions.sh"

cluster_cache=${RPI_SWARMING_CLUSTER_CACHE:-$cluster_root/.cache/cluster}
cluster_bin=$cluster_cache/bin
# One cluster per machine: fixed state paths, so a teardown from any checkout
# (or after a crash) finds what a previous start left.
cluster_var=/var/lib/rpi-swarming-cluster
cluster_run=/run/rpi-swarming-cluster
cluster_pids=$cluster_run/pids
cluster_logs=$cluster_run/logs

cluster_node=${RPI_SWARMING_CLUSTER_NODE:-rpi-ci-node-1}
# The node address lives on a port-less bridge of our own; pods get a bridge
# and a /24 of our own; Service IPs come from a third private range.
cluster_node_if=rpisw-node
cluster_node_ip=172.30.99.1
cluster_bridge=rpisw-br0
cluster_pod_cidr=10.99.0.0/24
cluster_service_cidr=10.98.0.0/24
cluster_dns_ip=$cluster_node_ip
cluster_apiserver=https://127.0.0.1:6443
cluster_etcd_port=12379
cluster_etcd_peer_port=12380
# iptables chain (filter table) that keeps pod traffic on this machine.
cluster_fw_chain=RPISW-FORWARD
# cgroup (in every v1 hierarchy, or the v2 tree) the kubelet puts pods under.
cluster_cgroup=rpi-swarming-cluster
cluster_containerd_sock=$cluster_run/containerd/containerd.sock
cluster_sandbox_image=localhost/rpi-swarming-cluster-pause:1

cluster_kubeconfig=$cluster_var/pki/admin.kubeconfig

clog() { printf '[cluster] %s\n' "$*" >&2; }

# kubectl against the test cluster (admin credentials).
ckubectl() { "$cluster_bin/kubectl" --kubeconfig "$cluster_kubeconfig" "$@"; }

# The containerd client of our containerd, in the CRI namespace.
cctr() { ctr --address "$cluster_containerd_sock" -n k8s.io "$@"; }

# pid_alive NAME: the pid recorded for NAME runs.
pid_alive() {
  local f=$cluster_pids/$1.pid
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}
