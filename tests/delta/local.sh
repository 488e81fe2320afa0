# tests/delta/local.sh - hooks for tests/delta/run_cases.sh: the delta save cases through
# the local store, in directory mode (part of `make test-unit`). Blobs live at
# STORE/blobs/sha256/<hex>: the hooks count, remove and corrupt those files.
#   DELTA_HOOKS=tests/delta/local.sh bash tests/delta/run_cases.sh
# shellcheck shell=bash
DELTA_STORE=$DELTA_WORK.store
rm -rf "$DELTA_STORE"
# shellcheck disable=SC2034 # DELTA_* are read by tests/delta/cases.sh
DELTA_ARGS=(--provider local --store "$DELTA_STORE")
delta_blobs() { find "$DELTA_STORE/blobs/sha256" -type f ! -name '.*' 2>/dev/null | wc -l; }
delta_drop() { rm "$DELTA_STORE/blobs/sha256/$1"; }
delta_corrupt() { printf 'XXXXXXXXXXXXXXXX' | dd of="$DELTA_STORE/blobs/sha256/$1" bs=1 seek=300 conv=notrunc; }
delta_after() {
  check "delta/local: 1 blob file left: the base (the delta dropped, the killed save's pruned)" \
    test "$(delta_blobs)" = 1
  rm -rf "$DELTA_STORE"
}
