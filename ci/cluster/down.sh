#!/usr/bin/env bash
# Tears the single-node test cluster down completely, also after a failed or
# killed run: pods and containers, every process the cluster started (by the
# pids up.sh recorded, plus the containerd shims and container processes found
# through our own runc root and cgroup), mounts under the cluster's
# directories, the pods' veths and network namespaces, the bridge, the node
# address, our iptables chains (and kube-proxy's/kubelet's KUBE-* chains),
# the cgroups, and the state directories. Idempotent: safe to run any time.
# Usage (root): bash ci/cluster/down.sh
set -uo pipefail
# shellcheck source=ci/cluster/common.sh
source "$(dirname "$0")/common.sh"
[[ $(id -u) -eq 0 ]] || { clog "needs root"; exit 2; }

# stop_pid NAME SECONDS: SIGTERM the recorded pid, SIGKILL after SECONDS.
stop_pid() {
  local f=$cluster_pids/$1.pid pid i
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  # (pid reuse: only a process whose command line names our state directory)
  if kill -0 "$pid" 2>/dev/null && grep -qa "rpi-swarming-cluster" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < $2 * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
}

# 1. Give running pods a short, orderly end while the control plane is up, so
# the kubelet and CNI remove their own sandboxes (veths, netns, IPs).
if pid_alive kube-apiserver && pid_alive kubelet && [[ -f $cluster_kubeconfig ]]; then
  timeout 60 "$cluster_bin/kubectl" --kubeconfig "$cluster_kubeconfig" delete pods --all --all-namespaces \
    --grace-period=5 --wait=true --timeout=50s >/dev/null 2>&1 || clog "pods did not all stop in time: killing them"
fi

# 2. Node agents first (nothing restarts containers afterwards), then the rest.
stop_pid kubelet 10
stop_pid kube-proxy 5
stop_pid coredns 5
stop_pid kube-scheduler 5
stop_pid kube-controller-manager 5

# 3. Containers: kill every process in our pod cgroups, then let runc forget them.
kill_cgroup_procs() {
  local f pid
  for f in /sys/fs/cgroup/*/"$cluster_cgroup"/ /sys/fs/cgroup/"$cluster_cgroup"/; do
    [[ -d $f ]] || continue
    while read -r pid; do
      [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    done < <(find "$f" \( -name cgroup.procs -o -name tasks \) -exec cat {} + 2>/dev/null | sort -u)
  done
}
kill_cgroup_procs
if [[ -d $cluster_run/runc ]]; then
  for ns in "$cluster_run"/runc/*/; do
    [[ -d $ns ]] || continue
    for id in $(runc --root "$ns" list -q 2>/dev/null); do
      runc --root "$ns" kill -a "$id" KILL >/dev/null 2>&1
      runc --root "$ns" delete -f "$id" >/dev/null 2>&1
    done
  done
fi
# containerd shims of our containerd (they carry its socket on their command line).
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "-address $cluster_containerd_sock"; then
    kill -KILL "$pid" 2>/dev/null
  fi
done
kill_cgroup_procs
stop_pid containerd 10
stop_pid kube-apiserver 10
stop_pid etcd 10

# 4. Network namespaces of our pods: those whose interfaces hold a pod address
# or whose veth peer is on our bridge (found before the bridge goes).
pod_net=${cluster_pod_cidr%.*/*}.
declare -A our_ns=()
for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
  if ip netns exec "$ns" ip -o -4 addr show 2>/dev/null | grep -q " inet ${pod_net//./\\.}"; then our_ns[$ns]=1; fi
done
if ip link show "$cluster_bridge" >/dev/null 2>&1; then
  # A veth on our bridge names its peer's netns id; map ids to names.
  while read -r nsid; do
    name=$(ip netns list-id 2>/dev/null | awk -v id="$nsid" '$2 == id { print $4 }')
    [[ -n $name ]] && our_ns[$name]=1
  done < <(ip -o -d link show master "$cluster_bridge" 2>/dev/null | grep -o 'link-netnsid [0-9]*' | awk '{ print $2 }')
  for veth in $(ip -o link show master "$cluster_bridge" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    ip link del "$veth" 2>/dev/null
  done
  ip link del "$cluster_bridge" 2>/dev/null
fi
for ns in "${!our_ns[@]}"; do
  ip netns del "$ns" 2>/dev/null || { umount -l "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; }
done
ip link del "$cluster_node_if" 2>/dev/null

# 5. Mounts under our directories (deepest first), then the directories.
for d in "$cluster_var" "$cluster_run"; do
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done < <(awk -v d="$d" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
done
# The kubelet's /var/log/containers links into our pod log directory.
for l in /var/log/containers/*.log; do
  [[ -L $l && "$(readlink "$l")" == "$cluster_var/"* ]] && rm -f "$l"
done

# 6. iptables: our chain, and the KUBE-* chains of kube-proxy and the kubelet
# (no other program on these machines makes KUBE-* chains).
[[ -x $cluster_bin/kube-proxy && -f $cluster_var/kube-proxy.yaml ]] &&
  "$cluster_bin/kube-proxy" --cleanup --config "$cluster_var/kube-proxy.yaml" >/dev/null 2>&1
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle raw; do
    rules=$("$ipt" -w -t "$table" -S 2>/dev/null) || continue
    # Jumps into the chains first, then the chains themselves.
    grep -E "^-A .* -j ($cluster_fw_chain|KUBE-[A-Z0-9-]+)( |$)" <<<"$rules" | sed 's/^-A /-D /' | while read -r rule; do
      eval "$ipt -w -t $table $rule" 2>/dev/null
    done
    chains=$(grep -oE "^-N ($cluster_fw_chain|KUBE-[A-Z0-9-]+)$" <<<"$rules" | awk '{ print $2 }')
    for op in -F -X; do
      while read -r chain; do
        [[ -n $chain ]] && "$ipt" -w -t "$table" "$op" "$chain" 2>/dev/null
      done <<<"$chains"
    done
  done
done
if [[ -f $cluster_run/ip_forward.before ]]; then cat "$cluster_run/ip_forward.before" >/proc/sys/net/ipv4/ip_forward; fi

# 7. cgroups (deepest first; a cgroup with a live process stays and is reported).
left=0
for h in /sys/fs/cgroup/*/"$cluster_cgroup" /sys/fs/cgroup/"$cluster_cgroup"; do
  [[ -d $h ]] || continue
  while read -r d; do rmdir "$d" 2>/dev/null || left=1; done < <(find "$h" -depth -type d)
done

# 8. State.
rm -rf "$cluster_var" "$cluster_run"

# Report anything that survived.
problems=()
((left)) && problems+=("cgroups under $cluster_cgroup remain")
ip link show "$cluster_bridge" >/dev/null 2>&1 && problems+=("bridge $cluster_bridge remains")
ip link show "$cluster_node_if" >/dev/null 2>&1 && problems+=("interface $cluster_node_if remains")
grep -q "/rpi-swarming-cluster" /proc/self/mountinfo && problems+=("mounts remain")
iptables -w -S 2>/dev/null | grep -q -- "$cluster_fw_chain" && problems+=("iptables chain $cluster_fw_chain remains")
if ((${#problems[@]})); then
  clog "teardown incomplete: ${problems[*]}"
  exit 1
fi
clog "cluster torn down"
