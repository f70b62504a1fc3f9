#!/usr/bin/env bash
# Builds the release archives of the kubectl plugin: for each OS/ARCH given,
# OUT_DIR/kubectl-dcs_vVERSION_OS_ARCH.tar.gz holding the kubectl-dcs binary
# and LICENSE (the layout plugins/krew/dcs.yaml installs), and adds their
# SHA-256 sums to OUT_DIR/kubectl-dcs_vVERSION_checksums.txt. hack/krew-manifest
# then writes the krew manifest for them; `make plugin-dist` runs both.
#
# The binaries are static (CGO_ENABLED=0) and built with -trimpath; the
# archives list their files in a fixed order, owned by 0:0, dated at the commit, and
# gzip stores no name or time: two runs on one commit with one Go toolchain
# give the same bytes.
#
# Usage: VERSION=X.Y.Z [LDFLAGS=...] hack/plugin-dist.sh OUT_DIR OS/ARCH...
#   LDFLAGS are added to the linker flags: the version stamp of internal/version
#   (the Makefile passes its VERSION_LDFLAGS).
# Needs GNU tar (Linux; gtar on macOS).
set -euo pipefail

out="${1:?usage: VERSION=X.Y.Z $0 OUT_DIR OS/ARCH...}"
shift
[[ $# -gt 0 ]] || { echo "$0: name at least one OS/ARCH, e.g. linux/amd64" >&2; exit 2; }
version="${VERSION:?VERSION=X.Y.Z is required}"
if [[ ! "${version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "$0: VERSION ${version} is not X.Y.Z" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tar="tar"
if command -v gtar >/dev/null; then
  tar="gtar"
fi
# The commit's time, so that a rebuild of the same commit dates the files the same.
mtime="${SOURCE_DATE_EPOCH:-$(git -C "${root}" log -1 --format=%ct 2>/dev/null || echo 0)}"

mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
checksums="${out}/kubectl-dcs_v${version}_checksums.txt"
stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT

for platform in "$@"; do
  os="${platform%/*}"
  arch="${platform#*/}"
  if [[ -z "${os}" || -z "${arch}" || "${platform}" != */* ]]; then
    echo "$0: ${platform} is not OS/ARCH" >&2
    exit 2
  fi
  archive="kubectl-dcs_v${version}_${os}_${arch}.tar.gz"
  echo "building ${archive}" >&2
  rm -rf "${stage:?}/${os}_${arch}"
  mkdir -p "${stage}/${os}_${arch}"
  (cd "${root}" && CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath \
    -ldflags "-s -w ${LDFLAGS:-}" -o "${stage}/${os}_${arch}/kubectl-dcs" ./cmd/kubectl-dcs)
  cp "${root}/LICENSE" "${stage}/${os}_${arch}/LICENSE"
  chmod 0755 "${stage}/${os}_${arch}/kubectl-dcs"
  chmod 0644 "${stage}/${os}_${arch}/LICENSE"
  "${tar}" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${mtime}" \
    -C "${stage}/${os}_${arch}" -cf - kubectl-dcs LICENSE | gzip -9n > "${out}/${archive}"
  # One line per archive: a rebuilt platform replaces its line.
  touch "${checksums}"
  grep -v "  ${archive}\$" "${checksums}" > "${checksums}.new" || true
  (cd "${out}" && sha256sum "${archive}") >> "${checksums}.new"
  sort -k2 "${checksums}.new" > "${checksums}"
  rm -f "${checksums}.new"
done
