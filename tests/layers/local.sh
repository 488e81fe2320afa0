# tests/layers/local.sh - hooks for tests/layers/run_cases.sh: the layer cache cases through
# the local store, in directory mode (no daemon; part of `make test-unit`), then the
# store's own layout: blobs at blobs/sha256/<hex>, one file per digest named by its
# SHA-256, hidden from ls, and prune of the ones no index references.
#   LAYERS_HOOKS=tests/layers/local.sh bash tests/layers/run_cases.sh
# shellcheck shell=bash
STORE=$LAYERS_WORK.store
LAYERS_ARGS=(--provider local --store "$STORE")

layers_after() {
  check "layers: the local store keeps one file per blob under blobs/sha256" \
    test "$(find "$STORE/blobs/sha256" -type f | wc -l)" = 10
  check "layers: every stored blob's name is its SHA-256" bash -c \
    "cd '$STORE/blobs/sha256' && for f in *; do [ \"\$(sha256sum \"\$f\" | cut -c1-64)\" = \"\$f\" ] || exit 1; done"
  check "layers: ls shows the two layer caches, never a blob" \
    bash -c "[ \$('$BKCACHE' ls --provider local --store '$STORE' | grep -c '\.layers-app-') = 2 ] && ! '$BKCACHE' ls --provider local --store '$STORE' | grep -q blob"
  "$BKCACHE" prune --provider local --store "$STORE" --keep 1 >"$LAYERS_WORK/prune.out" 2>&1
  check "layers: prune --keep 1 drops the older cache; its 3 own blobs wait for the grace period" \
    test "$(find "$STORE/blobs/sha256" -type f | wc -l)" = 10
  BKCACHE_BLOB_GRACE=0 "$BKCACHE" prune --provider local --store "$STORE" --keep 1 \
    >"$LAYERS_WORK/prune.out" 2>&1
  check "layers: then prune removes exactly the blobs no index references" \
    bash -c "grep -q 'blobs: 3 removed' '$LAYERS_WORK/prune.out' && [ \$(find '$STORE/blobs/sha256' -type f | wc -l) = 7 ]"
  rm -rf "$STORE"
}
