# Pinned versions of the single-node test cluster (sourced by ci/cluster/*.sh).
# The Kubernetes version is named here and nowhere else; its staging modules
# (k8s.io/api, k8s.io/client-go, ...) carry the matching v0.<minor>.<patch> tag.
# shellcheck shell=bash disable=SC2034
KUBE_VERSION=v1.34.2
ETCD_VERSION=v3.6.16
COREDNS_VERSION=v1.14.7
KUBE_STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
