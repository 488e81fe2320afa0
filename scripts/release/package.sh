#!/bin/sh
# package.sh ARCH BUILDDIR DIST VERSION - one release archive:
# DIST/bkcache-VERSION-linux-ARCH.tar.gz holding exactly `bkcache` and
# `bkcache-helper` at the top level, stripped.
#
# Refuses binaries that `file` does not call statically linked. The archive
# is reproducible for one commit: owner 0:0, modes 0755, and every mtime
# set to the commit's date.
set -eu
arch=$1 build=$2 dist=$3 version=$4
case "$arch" in
amd64) strip=strip ;;
arm64) strip=aarch64-linux-gnu-strip ;;
*) echo "package: unknown arch $arch" >&2; exit 2 ;;
esac
stage=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for b in bkcache bkcache-helper; do
  $strip -o "$stage/$b" "$build/$b"
  chmod 0755 "$stage/$b"
  if ! file -b "$stage/$b" | grep -q 'statically linked'; then
    echo "package: $build/$b is not statically linked: $(file -b "$stage/$b")" >&2
    exit 1
  fi
done
mkdir -p "$dist"
out=$dist/bkcache-$version-linux-$arch.tar.gz
mtime=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
tar -C "$stage" --owner=0 --group=0 --numeric-owner --mtime="$mtime" --sort=name \
  -cf - bkcache bkcache-helper | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
echo "  RELEASE $out ($(du -k "$out" | cut -f1) KiB)"
