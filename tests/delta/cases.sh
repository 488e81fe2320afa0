# tests/delta/cases.sh - delta saves (issue 20, docs/delta-saves.md) through one store, with
# the real CLI in directory mode. Sourced by each provider suite after it has set:
#   BKCACHE       the binary
#   DELTA_WORK    a scratch directory (removed and made again here)
#   DELTA_ARGS    an array: the store options (--provider X --store Y ...)
#   check NAME CMD...   the suite's assertion helper
# and these hooks (functions), which reach into the store itself, not through bkcache:
#   delta_drop HEX      required: remove the blob sha256:HEX from the store
#   delta_corrupt HEX   optional: overwrite bytes of that blob in place (same size); without
#                       it the last case drops the base blob instead
#   delta_blobs         optional: how many blobs the store holds (or has stored), by its own
#                       records; checks that the delta save stored exactly one more
#   delta_next_job      optional: called between the jobs (a store that ties entries to a
#                       CI run starts the next run there)
#   delta_after         optional: the suite's own checks at the end (DELTA_* below are set)
# The cases: the first save stores one layer blob and an index of 1 layer, and restores to
# the exact tree; after 2% of the files change, a save sends a small delta (under 20% of
# the base blob) and not the base again, its index has 2 layers with the same base, and it
# restores into an empty directory to the exact tree (digest and files); a save killed
# between its blob and its index leaves the previous entry what restores get; a layer blob
# gone from the store makes that entry a miss and the restore falls back to the next
# restore key (v1's entry, whole); with the base blob gone (or corrupt) too, nothing
# restores, and no partial tree is left. Before that, prune removes the killed save's blob
# and keeps every one an index names (DELTA_NO_PRUNE=1: a store prune cannot list or
# delete). Layers are read from the base record
# (.bkcache-base) a layered restore writes, which lists the restored index's layers.
# DELTA_SAVE_OPTS adds options to every save (try "--delta off": the layer checks fail).
# shellcheck shell=bash

D=$DELTA_WORK
rm -rf "$D" && mkdir -p "$D" || return 1
cat >"$D/Dockerfile" <<'DF'
FROM alpine:3.20
RUN --mount=type=cache,id=dcache,target=/root/.cache/d \
    true
DF
# shellcheck disable=SC2206
delta_save_opts=(${DELTA_SAVE_OPTS:-})
dbk() { # bkcache CMD ARGS...: the Dockerfile, the store, --json
  local cmd=$1
  shift
  if [ "$cmd" = save ]; then set -- "$@" "${delta_save_opts[@]}"; fi
  "$BKCACHE" "$cmd" -f "$D/Dockerfile" --mount dcache --json "$@" "${DELTA_ARGS[@]}"
}
dnext() { if declare -F delta_next_job >/dev/null; then delta_next_job; fi; }
dfield() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))["identities"][0].get(sys.argv[2])
print("" if v is None else v)' "$1" "$2" 2>/dev/null; }
# dlayers DIR EXPR: EXPR over the layers the base record of DIR lists (a list of dicts
# with digest, size, tree), e.g. 'len(L)'
dlayers() { zstd -dc "$1/dcache/.bkcache-base" 2>/dev/null | head -1 |
  python3 -c 'import json,sys; L=json.load(sys.stdin)["layers"]; print(eval(sys.argv[1]))' "$2" 2>/dev/null; }
dcount() { if declare -F delta_blobs >/dev/null; then delta_blobs; else echo n/a; fi; }

# 300 files of ~4 KiB, none alike (base64 of random bytes: a compiler cache's mix)
dfill() {
  local i
  for i in $(seq 0 299); do
    mkdir -p "$1/dcache/d$((i % 10))"
    head -c 3000 /dev/urandom | base64 >"$1/dcache/d$((i % 10))/f$i"
  done
}
dchange() { # 2% of the files rewritten with new content
  local i
  for i in 3 57 101 150 222 299; do head -c 3000 /dev/urandom | base64 >"$1/dcache/d$((i % 10))/f$i"; done
}

# job 1: the first save, then a restore of it
dfill "$D/src"
DELTA_BLOBS0=$(dcount)
dbk save --dir "$D/src" --state "$D/s1.state" --key-extra v1 --run-id r1 >"$D/s1.json" 2>"$D/s1.err"
check "delta: the first save stores the cache" test "$(dfield "$D/s1.json" action)" = saved
dnext
dbk restore --dir "$D/d1" --state "$D/d1.state" --key-extra v1 --run-id r2 >"$D/r1.json" 2>"$D/r1.err"
check "delta: the first save restores to the exact tree (files and digest)" bash -c \
  "[ '$(dfield "$D/r1.json" hit)' = exact ] && [ '$(dfield "$D/r1.json" digest)' = '$(dfield "$D/s1.json" digest)' ] && diff -r -x .bkcache-base '$D/src' '$D/d1'"
check "delta: the first save is an index of one layer blob" test "$(dlayers "$D/d1" 'len(L)')" = 1
DELTA_BASE=$(dlayers "$D/d1" 'L[0]["digest"][7:]')
DELTA_BASE_SIZE=$(dlayers "$D/d1" 'L[0]["size"]')
[ -n "$DELTA_BASE" ] || DELTA_BASE=none DELTA_BASE_SIZE=0
check "delta: the first save sent the base blob and a small index" bash -c \
  "b=$(dfield "$D/s1.json" bytes); [ \${b:-0} -ge $DELTA_BASE_SIZE ] && [ \${b:-0} -lt $((DELTA_BASE_SIZE + 4096)) ]"
[ "$DELTA_BLOBS0" = n/a ] ||
  check "delta: the store holds one blob after the first save" test "$(dcount)" = $((DELTA_BLOBS0 + 1))

# job 2: 2% of the files change; the save sends a small delta, not the base again
dchange "$D/d1"
DELTA_BLOBS1=$(dcount)
dbk save --dir "$D/d1" --state "$D/d1.state" --key-extra v2 --run-id r2 >"$D/s2.json" 2>"$D/s2.err"
check "delta: the changed cache is saved" test "$(dfield "$D/s2.json" action)" = saved
DELTA_SENT2=$(dfield "$D/s2.json" bytes)
check "delta: after a 2% change the save sends under 20% of the base blob" \
  test "${DELTA_SENT2:-0}" -gt 0 -a "${DELTA_SENT2:-0}" -lt $((DELTA_BASE_SIZE / 5))
[ "$DELTA_BLOBS1" = n/a ] ||
  check "delta: the store got one new blob (the base was not stored again)" \
    test "$(dcount)" = $((DELTA_BLOBS1 + 1))
dnext

# job 3: a fresh runner restores the 2-layer entry into an empty directory
dbk restore --dir "$D/d2" --state "$D/d2.state" --key-extra v2 --run-id r3 >"$D/r2.json" 2>"$D/r2.err"
check "delta: the 2-layer entry restores to the exact tree (files and digest)" bash -c \
  "[ '$(dfield "$D/r2.json" hit)' = exact ] && [ '$(dfield "$D/r2.json" digest)' = '$(dfield "$D/s2.json" digest)' ] && diff -r -x .bkcache-base '$D/d1' '$D/d2'"
check "delta: its index has 2 layers, the bottom one the first save's blob" \
  test "$(dlayers "$D/d2" 'len(L), L[0]["digest"][7:]')" = "(2, '$DELTA_BASE')"
DELTA_TOP=$(dlayers "$D/d2" 'L[1]["digest"][7:]')
DELTA_TOP_SIZE=$(dlayers "$D/d2" 'L[1]["size"]')
check "delta: the delta layer's blob is under 20% of the base blob" \
  test "${DELTA_TOP_SIZE:-0}" -gt 0 -a "${DELTA_TOP_SIZE:-0}" -lt $((DELTA_BASE_SIZE / 5))
[ -n "$DELTA_TOP" ] || DELTA_TOP=none

# job 4: a save killed after its blob, before its index: restores get the previous entry
cp -r "$D/d2" "$D/d4" && dchange "$D/d4"
(BKCACHE_TEST_SAVE_PAUSE=index exec "$BKCACHE" save -f "$D/Dockerfile" --mount dcache \
  --dir "$D/d4" --state "$D/d2.state" --key-extra v2 --run-id r4 "${DELTA_ARGS[@]}" \
  >"$D/s4.out" 2>"$D/s4.err") &
dpid=$!
for _ in $(seq 300); do [ "$(cat /proc/$dpid/comm 2>/dev/null)" = bkcache-paused ] && break; sleep 0.1; done
dpaused=$(cat /proc/$dpid/comm 2>/dev/null)
kill -9 $dpid 2>/dev/null
wait $dpid 2>/dev/null
dnext
dbk restore --dir "$D/d5" --state "$D/d5.state" --key-extra v2 --run-id r5 >"$D/r5.json" 2>"$D/r5.err"
check "delta: a save killed before its index: the restore gets the previous entry, whole" bash -c \
  "[ '$dpaused' = bkcache-paused ] && [ '$(dfield "$D/r5.json" matched_key)' = '$(dfield "$D/s2.json" save_key)' ] && diff -r -x .bkcache-base '$D/d1' '$D/d5'"

# prune (where the store can list and delete): the killed save's blob, which no index
# names, is removed; every blob an index names stays, and the 2-layer entry still restores
if [ -z "${DELTA_NO_PRUNE:-}" ]; then
  BKCACHE_BLOB_GRACE=0 "$BKCACHE" prune --keep 100 "${DELTA_ARGS[@]}" >"$D/prune.out" 2>&1
  dbk restore --dir "$D/d5p" --state "$D/d5p.state" --key-extra v2 --run-id r5 >"$D/r5p.json" 2>"$D/r5p.err"
  check "delta: prune removes only the blob no index names (the killed save's); the entry still restores" bash -c \
    "grep -q 'blobs: 1 removed' '$D/prune.out' && [ '$(dfield "$D/r5p.json" matched_key)' = '$(dfield "$D/s2.json" save_key)' ] && diff -r -x .bkcache-base '$D/d1' '$D/d5p' || { cat '$D/prune.out' '$D/r5p.err'; false; }"
fi

# job 5: the delta's blob is gone: that entry is a miss, the restore falls back to v1's
delta_drop "$DELTA_TOP" >"$D/drop.out" 2>&1
dnext
dbk restore --dir "$D/d6" --state "$D/d6.state" --key-extra v2 --run-id r6 >"$D/r6.json" 2>"$D/r6.err"
check "delta: a layer gone from the store: the restore falls back to the next restore key, whole" bash -c \
  "[ '$(dfield "$D/r6.json" hit)' = partial ] && [ '$(dfield "$D/r6.json" matched_key)' = '$(dfield "$D/s1.json" save_key)' ] && grep -q 'not usable' '$D/r6.err' && diff -r -x .bkcache-base '$D/src' '$D/d6' || { cat '$D/drop.out' '$D/r6.json' '$D/r6.err'; false; }"

# job 6: the base blob gone (or corrupt) too: no entry is whole, nothing is restored
if declare -F delta_corrupt >/dev/null; then
  delta_corrupt "$DELTA_BASE" >"$D/corrupt.out" 2>&1
  dhow=corrupt
else
  delta_drop "$DELTA_BASE" >"$D/drop2.out" 2>&1
  dhow=gone
fi
dnext
dbk restore --dir "$D/d7" --state "$D/d7.state" --key-extra v2 --run-id r7 >"$D/r7.json" 2>"$D/r7.err"
check "delta: with the base blob $dhow as well: a miss, and no partial tree" bash -c \
  "[ '$(dfield "$D/r7.json" action)' = miss ] && [ ! -e '$D/d7/dcache' ] || { cat '$D/corrupt.out' '$D/drop2.out' '$D/r7.json' '$D/r7.err'; false; }"
export DELTA_BASE DELTA_BASE_SIZE DELTA_TOP DELTA_TOP_SIZE DELTA_SENT2
if declare -F delta_after >/dev/null; then delta_after; fi
