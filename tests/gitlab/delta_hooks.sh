# delta_hooks.sh - hooks for tests/delta/run_cases.sh on the gitlab provider's two stores
# (DELTA_GL_STORE): "runner", a cache directory ($CI_PROJECT_DIR/.bkcache-delta, a local
# store whose blob entries are files: removed or overwritten in place), and
# "packages", the generic package registry (a blob is the package version
# bkcache-.blob-sha256-<hex>: the emulator's state counts them, the driver deletes one).
# Needs EMU (the emulator) and GITLAB_DRIVER, set by run.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034 # DELTA_* are read by tests/delta/cases.sh
DELTA_ARGS=(--provider gitlab --store-opt "store=$DELTA_GL_STORE")
if [ "$DELTA_GL_STORE" = runner ]; then
  # a cache directory of its own (prune sees only these cases' blobs); the gitlab provider
  # keeps a blob as the entry bkcache-.blob-sha256-<hex> of the local store it wraps:
  # entries/<name>.json names the key, entries/<name>.tar.zst holds it
  rm -rf "$CI_PROJECT_DIR/.bkcache-delta"
  DELTA_ARGS+=(--store .bkcache-delta)
  gl_entries=$CI_PROJECT_DIR/.bkcache-delta/entries
  gl_blob_file() { grep -l -F "\"bkcache-.blob-sha256-$1\"" "$gl_entries"/*.json | sed 's/\.json$//'; }
  delta_blobs() { grep -l -F '"bkcache-.blob-sha256-' "$gl_entries"/*.json 2>/dev/null | wc -l; }
  delta_drop() { local f; f=$(gl_blob_file "$1") && [ -n "$f" ] && rm "$f.json" "$f.tar.zst"; }
  delta_corrupt() {
    local f
    f=$(gl_blob_file "$1") && [ -n "$f" ] &&
      printf 'XXXXXXXXXXXXXXXX' | dd of="$f.tar.zst" bs=1 seek=300 conv=notrunc
  }
else
  delta_blobs() {
    curl -fsS "$EMU/_emu/state" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
      console.log(JSON.parse(s).filter(p=>p.version.startsWith("bkcache-.blob-sha256-")).length))'
  }
  delta_drop() { "$GITLAB_DRIVER" -o store=packages remove "bkcache-.blob-sha256-$1"; }
fi
