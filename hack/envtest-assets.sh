#!/usr/bin/env bash
# Prints a directory holding kube-apiserver and etcd for controller-runtime's
# envtest (use it as KUBEBUILDER_ASSETS). The apiserver is the one the
# sandbox builds from the Kubernetes modules; etcd is Debian's.
#   KVNET_K8S_BIN_DIR  where kube-apiserver is (default /var/cache/kvnet/k8s-v1.37.2)
#   KVNET_ETCD         etcd binary (default: etcd on PATH, else /usr/bin/etcd)
#   KVNET_ENVTEST_DIR  where to put the symlinks (default /var/cache/kvnet/envtest)
# Exits non-zero, printing nothing on stdout, when a binary is missing.
set -euo pipefail
bin_dir="${KVNET_K8S_BIN_DIR:-/var/cache/kvnet/k8s-v1.37.2}"
etcd="${KVNET_ETCD:-$(command -v etcd || echo /usr/bin/etcd)}"
out="${KVNET_ENVTEST_DIR:-/var/cache/kvnet/envtest}"
for f in "$bin_dir/kube-apiserver" "$etcd"; do
	if [[ ! -x "$f" ]]; then
		echo "envtest-assets: $f is missing (build the sandbox's control plane, install etcd-server)" >&2
		exit 1
	fi
done
mkdir -p "$out"
ln -sfn "$bin_dir/kube-apiserver" "$out/kube-apiserver"
ln -sfn "$etcd" "$out/etcd"
if kubectl="$(command -v kubectl)"; then
	ln -sfn "$kubectl" "$out/kubectl"
fi
echo "$out"
