#!/usr/bin/env bash
# Builds the versitygw S3 gateway (github.com/versity/versitygw, Apache-2.0)
# from source through the Go module proxy and caches it outside the checkout,
# keyed by the pinned version and this script, so fresh clones and CI reuse
# one build. The tests of internal/objectstore run against it with its posix
# backend: a real S3 server, not a mock. MinIO's server is AGPL and is not
# used.
#
# The module has no replace directives, so `go install module/cmd@version`
# builds it from its own go.mod and go.sum (checked against the checksum
# database), without a helper module.
#
# Usage: hack/versitygw.sh        builds if needed, prints the binary's path
set -euo pipefail

version="v1.8.0"
build_date="2026-06-02T00:00:00Z" # fixed, so that two builds of the same version are the same binary
pkg="github.com/versity/versitygw/cmd/versitygw@${version}"
ldflags="-s -w -X main.Version=${version} -X main.Build=${version} -X main.BuildTime=${build_date}"
env_flags="CGO_ENABLED=0 -trimpath"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/dcs-backup-operator"
# The key is the build recipe: it changes with the version or the flags,
# not with the comments and messages of this script.
key="$(printf '%s\n' "${pkg}" "${ldflags}" "${env_flags}" | sha256sum | cut -c1-12)"
dir="${cache_root}/versitygw/${version}-${key}"
bin="${dir}/versitygw"

if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache_root}/versitygw"
exec 9>"${cache_root}/versitygw/.lock"
flock 9
# Another build may have finished while we waited for the lock.
if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

echo "building versitygw ${version} from source into ${dir} (first run only; 3 to 8 minutes on 2 cores)" >&2
tmp="$(mktemp -d "${cache_root}/versitygw/.build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

# Outside any module and workspace, so that nothing of the checkout leaks
# into the build; CGO off: the posix backend needs none, and the binary then
# runs on any Linux of the same architecture.
cd /
GOBIN="${tmp}" GOWORK=off CGO_ENABLED=0 go install -trimpath -ldflags "${ldflags}" "${pkg}"

mkdir -p "$(dirname "${dir}")"
rm -rf "${dir}"
mv "${tmp}" "${dir}"
trap - EXIT
echo "${bin}"
