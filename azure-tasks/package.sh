#!/bin/sh
# package.sh - build the .vsix that installs the BkCache task.
#
#   azure-tasks/package.sh [OUTDIR]     (default OUTDIR: build/azure-tasks)
#
# Builds ./bkcache, copies it to bkcache/bin/linux-<arch>/bkcache (the task
# picks the file for the agent's architecture and sets its executable bit at
# run time, since a VSIX is a zip and keeps no modes), installs the task's
# production dependencies with `npm ci --omit=dev`, and runs tfx-cli's
# `extension create`. Run it once per architecture on a machine like the
# agents (same C library), or copy the other architecture's binary in first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$root/build/azure-tasks}
case $(uname -m) in x86_64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) echo "unsupported $(uname -m)" >&2; exit 1 ;; esac

make -C "$root" -j2 bkcache
mkdir -p "$here/bkcache/bin/linux-$arch" "$out"
cp "$root/bkcache" "$here/bkcache/bin/linux-$arch/bkcache"
(cd "$here/bkcache" && npm ci --omit=dev --no-audit --no-fund)
cd "$here"
npx --yes tfx-cli extension create --manifest-globs vss-extension.json --output-path "$out"
echo "packaged into $out; upload with: npx tfx-cli extension publish --vsix <file> --share-with <org>"
