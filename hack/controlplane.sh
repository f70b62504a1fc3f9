#!/usr/bin/env bash
# Prints the directory to use as KUBEBUILDER_ASSETS: kube-apiserver and etcd
# that die with the process that starts them, and kubectl.
#
# envtest starts kube-apiserver and etcd in process groups of their own and
# without a parent-death signal, so a test binary that is SIGKILLed (a go test
# timeout, the OOM killer, a cancelled CI job) leaves them running. On Linux,
# this directory holds hack/pdeathsig under their names: it sets
# PR_SET_PDEATHSIG and executes the real binary in the same process. kubectl
# is a link to the real one.
#
# The real binaries come from hack/controlplane-build.sh, the source build of
# several minutes. Its cache key is its own text, which is why it is kept
# byte for byte as it was when it was hack/controlplane.sh: the wrappers are
# built here, in a directory with a key of its own, so that neither build
# invalidates the other.
#
# Usage: hack/controlplane.sh        builds if needed, prints the directory
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
real="$("${here}/controlplane-build.sh")"

if [[ "$(uname -s)" != Linux ]]; then
  echo "${real}" # the parent-death signal is Linux's
  exit 0
fi

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/dcs-backup-operator"
# The key changes with the real binaries' directory (compiled into the
# wrapper), the wrapper's source and this script.
key="$({ echo "${real}"; cat "${here}"/pdeathsig/*.go "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12)"
dir="${real}-pdeathsig-${key}"

ready() { [[ -x "${dir}/kube-apiserver" && -x "${dir}/etcd" && -x "${dir}/kubectl" ]]; }

if ready; then
  echo "${dir}"
  exit 0
fi

exec 9>"${cache_root}/controlplane/.pdeathsig.lock"
flock 9
# Another build may have finished while we waited for the lock.
if ready; then
  echo "${dir}"
  exit 0
fi

tmp="$(mktemp -d "${cache_root}/controlplane/.pdeathsig.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
(cd "${here}/.." && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.targetDir=${real}" \
  -o "${tmp}/kube-apiserver" ./hack/pdeathsig)
# The wrapper runs <targetDir>/<its own name>: the same binary under both names.
cp "${tmp}/kube-apiserver" "${tmp}/etcd"
ln -s "${real}/kubectl" "${tmp}/kubectl"
rm -rf "${dir}"
mv "${tmp}" "${dir}"
trap - EXIT
echo "${dir}"
