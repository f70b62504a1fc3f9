#!/usr/bin/env bash
# Regenerates every generated file and fails if any of them changed, so a
# stale CRD, RBAC role, DeepCopy, chart CRD, chart README or argocd-cm patch
# never lands. Works in a dirty tree too: it compares the files before and
# after regeneration, not against git.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

generated=(api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml)
if [[ -d charts/dcs-backup-operator/templates/crds ]]; then
  generated+=(charts/dcs-backup-operator/templates/crds charts/dcs-backup-operator/templates/rbac/manager-role.yaml)
fi
generated+=(charts/dcs-backup-operator/README.md config/argocd/argocd-cm-patch.yaml)

# Missing paths count as empty (e.g. no RBAC markers yet), never as an error.
snapshot() { { find "${generated[@]}" -type f -print0 2>/dev/null || true; } | sort -z | xargs -0 -r sha256sum; }

before="$(snapshot)"
make --no-print-directory manifests generate >/dev/null
if grep -q '^helm-crds:' Makefile; then make --no-print-directory helm-crds >/dev/null; fi
make --no-print-directory chart-readme >/dev/null 2>&1 || make --no-print-directory chart-readme >&2
make --no-print-directory argocd-cm >/dev/null
after="$(snapshot)"

if [[ "${before}" != "${after}" ]]; then
  echo "Generated files were stale; they have now been regenerated:" >&2
  diff <(echo "${before}") <(echo "${after}") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
  echo "Review and commit them (make manifests generate helm-crds chart-readme argocd-cm)." >&2
  exit 1
fi
echo "generated files are up to date"
