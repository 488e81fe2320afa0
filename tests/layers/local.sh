#!/usr/bin/env bash
# tests/layers/local.sh - the layer cache cases (cases.sh) through the local store, in
# directory mode: no daemon, part of `make test-unit`. Also checks the store's layout:
# blobs at blobs/sha256/<hex>, one per digest, and prune of the unreferenced ones.
set -u
BKCACHE=${BKCACHE:?set BKCACHE to the bkcache binary}
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-layers-XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
LAYERS_WORK=$ROOT/work
STORE=$ROOT/store
LAYERS_ARGS=(--provider local --store "$STORE")
PASS=0 FAIL=0
check() {
  local name=$1
  shift
  if "$@" >"$ROOT/check.log" 2>&1; then
    PASS=$((PASS + 1))
  else
    FAIL=$((FAIL + 1))
    echo "FAIL: $name"
    sed 's/^/  /' "$ROOT/check.log"
  fi
}
# shellcheck source=tests/layers/cases.sh
. "$(dirname "$0")/cases.sh"

check "layers: the local store keeps one file per blob under blobs/sha256" \
  test "$(find "$STORE/blobs/sha256" -type f | wc -l)" = 10
check "layers: every stored blob's name is its SHA-256" bash -c \
  "cd '$STORE/blobs/sha256' && for f in *; do [ \"\$(sha256sum \"\$f\" | cut -c1-64)\" = \"\$f\" ] || exit 1; done"
check "layers: ls shows the two layer caches, never a blob" \
  bash -c "[ \$('$BKCACHE' ls --provider local --store '$STORE' | grep -c '\.layers-app-') = 2 ] && ! '$BKCACHE' ls --provider local --store '$STORE' | grep -q blob"
"$BKCACHE" prune --provider local --store "$STORE" --keep 1 >"$ROOT/prune.out" 2>&1
check "layers: prune --keep 1 drops the older cache; its 3 own blobs wait for the grace period" \
  test "$(find "$STORE/blobs/sha256" -type f | wc -l)" = 10
BKCACHE_BLOB_GRACE=0 "$BKCACHE" prune --provider local --store "$STORE" --keep 1 >"$ROOT/prune.out" 2>&1
check "layers: then prune removes exactly the blobs no index references" \
  bash -c "grep -q 'blobs: 3 removed' '$ROOT/prune.out' && [ \$(find '$STORE/blobs/sha256' -type f | wc -l) = 7 ]"
echo "layers (local): $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
