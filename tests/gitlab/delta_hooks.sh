# delta_hooks.sh - hooks for tests/delta/run_cases.sh on the gitlab provider's two stores
# (DELTA_GL_STORE): "runner", the cache directory ($CI_PROJECT_DIR/.bkcache, a local
# store: blobs are files at blobs/sha256/<hex>, removed or overwritten in place), and
# "packages", the generic package registry (a blob is the package version
# bkcache-.blob-sha256-<hex>: the emulator's state counts them, the driver deletes one).
# Needs EMU (the emulator) and GITLAB_DRIVER, set by run.sh.
# shellcheck shell=bash
DELTA_ARGS=(--provider gitlab --store-opt "store=$DELTA_GL_STORE")
if [ "$DELTA_GL_STORE" = runner ]; then
  gl_blob_dir=$CI_PROJECT_DIR/.bkcache/blobs/sha256
  delta_blobs() { find "$gl_blob_dir" -type f ! -name '.*' 2>/dev/null | wc -l; }
  delta_drop() { rm "$gl_blob_dir/$1"; }
  delta_corrupt() { printf 'XXXXXXXXXXXXXXXX' | dd of="$gl_blob_dir/$1" bs=1 seek=300 conv=notrunc; }
else
  delta_blobs() {
    curl -fsS "$EMU/_emu/state" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
      console.log(JSON.parse(s).filter(p=>p.version.startsWith("bkcache-.blob-sha256-")).length))'
  }
  delta_drop() { "$GITLAB_DRIVER" -o store=packages remove "bkcache-.blob-sha256-$1"; }
fi
