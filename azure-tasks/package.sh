#!/bin/sh
# package.sh - build the .vsix that installs the BkCache task, with the release's
# static binaries inside.
#
#   azure-tasks/package.sh [--release DIR] [--stage-only] [OUTDIR]
#
# DIR (default: dist/, where `make release` writes) holds the release assets
# bkcache-<version>-linux-<arch>.tar.gz and SHA256SUMS. Each asset is checked
# against SHA256SUMS (a mismatch or a missing line stops the packaging) and
# unpacked into the task's bin/linux-<arch>/ (bkcache and bkcache-helper);
# the task picks the directory for the agent's architecture at run time and
# sets the executable bits, since a VSIX is a zip and keeps no modes. amd64 is
# required, arm64 packed when the release has it. Everything is staged in
# OUTDIR/stage (default OUTDIR: build/azure-tasks), never in the source tree:
# the task's files, its production dependencies (`npm ci --omit=dev`), the
# binaries and the extension manifest. tfx-cli's `extension create` then
# writes the .vsix into OUTDIR; --stage-only stops before it (the tests use
# that).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
release=$root/dist stage_only=
while [ $# -gt 0 ]; do
  case $1 in
  --release) release=$2; shift 2 ;;
  --stage-only) stage_only=1; shift ;;
  -*) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  *) break ;;
  esac
done
out=${1:-$root/build/azure-tasks}
die() { echo "package.sh: $*" >&2; exit 1; }

[ -f "$release/SHA256SUMS" ] || die "$release/SHA256SUMS not found (run make release, or give --release DIR)"
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage/bkcache"
cp "$here/vss-extension.json" "$stage/"
cp -R "$here/images" "$stage/"
for f in "$here"/bkcache/*.js "$here"/bkcache/task.json "$here"/bkcache/icon.png \
  "$here"/bkcache/package.json "$here"/bkcache/package-lock.json; do
  cp "$f" "$stage/bkcache/"
done

for arch in amd64 arm64; do
  asset=$(cd "$release" && ls bkcache-*-linux-$arch.tar.gz 2>/dev/null | tail -1) || true
  if [ -z "$asset" ]; then
    [ $arch = amd64 ] && die "no bkcache-*-linux-amd64.tar.gz in $release"
    echo "package.sh: no linux-$arch asset in $release; the task will refuse $arch agents" >&2
    continue
  fi
  (cd "$release" && grep -E "^[0-9a-f]{64}  \*?$asset\$" SHA256SUMS | sed 's/  \*/  /' | sha256sum -c --status) ||
    die "$release/$asset does not match SHA256SUMS (or has no line there); not packaging it"
  mkdir -p "$stage/bkcache/bin/linux-$arch"
  tar -xzf "$release/$asset" -C "$stage/bkcache/bin/linux-$arch" bkcache bkcache-helper ||
    die "$asset does not hold bkcache and bkcache-helper"
  echo "package.sh: $asset -> bkcache/bin/linux-$arch/"
done
[ -n "$stage_only" ] && { echo "package.sh: staged in $stage"; exit 0; }

(cd "$stage/bkcache" && npm ci --omit=dev --no-audit --no-fund)
cd "$stage"
npx --yes tfx-cli extension create --manifest-globs vss-extension.json --output-path "$out"
echo "packaged into $out; upload with: npx tfx-cli extension publish --vsix <file> --share-with <org>"
