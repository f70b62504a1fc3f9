#!/usr/bin/env bash
# Builds config/default, the whole operator, with the manager image set to
# IMAGE, and prints it. `make build-installer` (dist/install.yaml) and
# `make deploy` use it.
#
# `kustomize edit set image` rewrites config/manager/kustomization.yaml, so
# it runs on a temporary copy of config/: the checkout keeps the committed
# default image (ghcr.io/dcs-operator/dcs-backup-operator:vVERSION), also
# when the build fails half-way.
#
# Usage: KUSTOMIZE=<kustomize binary> hack/kustomize-default.sh IMAGE [CONFIG_DIR]
set -euo pipefail

image="${1:?usage: $0 IMAGE [CONFIG_DIR]}"
config="${2:-$(dirname "${BASH_SOURCE[0]}")/../config}"
kustomize="${KUSTOMIZE:-kustomize}"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
cp -R "${config}" "${tmp}/config"
(cd "${tmp}/config/manager" && "${kustomize}" edit set image "controller=${image}")
"${kustomize}" build "${tmp}/config/default"
