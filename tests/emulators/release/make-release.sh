#!/bin/sh
# make-release.sh - lay out a release the way `make release` publishes one, for the wrapper
# tests: DIR/bkcache-VERSION-linux-ARCH.tar.gz (BKCACHE and HELPER as bkcache and
# bkcache-helper at the top level) for each ARCH (default amd64), and DIR/SHA256SUMS.
#
#   make-release.sh DIR VERSION BKCACHE HELPER [ARCH...]
set -eu
dir=$1 version=$2 bin=$3 helper=$4
shift 4
[ $# -gt 0 ] || set -- amd64
mkdir -p "$dir"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/bkcache" && cp "$helper" "$stage/bkcache-helper"
chmod 755 "$stage/bkcache" "$stage/bkcache-helper"
for arch in "$@"; do
  tar -czf "$dir/bkcache-$version-linux-$arch.tar.gz" -C "$stage" bkcache bkcache-helper
done
(cd "$dir" && sha256sum bkcache-*.tar.gz >SHA256SUMS)
