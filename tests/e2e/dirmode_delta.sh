#!/bin/sh
# dirmode_delta.sh - delta saves (issue 20, docs/delta-saves.md) end to end
# in directory mode (--dir) with the local store, through the real CLI:
# the first save stores one blob and an index; a save after a restore and a
# 2% change uploads a small delta (an index of 2 layers) that restores to
# the exact tree; a layer missing or corrupt in the store makes that entry
# a miss and the restore falls back to the next restore key; a save killed
# between the blob and the index leaves the previous entry what restores
# get; a delta whose parent layer is gone is packed in full; two keys share
# a blob; --delta off and old plain archives still work. Prints
# "dirmode_delta: N passed" or the first failure. BKCACHE names the binary
# (default ./bkcache).
NAME=dirmode_delta
. tests/e2e/dirmode_lib.sh
unset BKCACHE_RUN_ID
json_num() { sed -n "s/.*\"$1\":[[:space:]]*\([0-9]*\).*/\1/p" "$T/out" | head -1; }
json_str() { sed -n "s/.*\"$1\":[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$T/out" | head -1; }
same_tree() { diff -r -x .bkcache-base "$1" "$2" >/dev/null; }
size_of() { wc -c <"$1" | tr -d ' '; }

S=$T/store
B=$S/blobs/sha256
first=$("$BK" plan -f "$df" --provider local --store "$S" --dir "$T/src" |
  grep -E '^[A-Za-z0-9._-]+$' | head -1)
[ -n "$first" ] || fail "plan shows no cache"
c="-f $df --provider local --store $S --mount $first"
nblobs() { find "$B" -type f 2>/dev/null | wc -l | tr -d ' '; }
nentries() { ls "$S/entries" | grep -c '\.json$'; }
# the stored entry file of the key the last save --json wrote
entry_of_last_save() {
  k=$(json_str save_key)
  f=$(grep -l -F "\"$k\"" "$S"/entries/*.json | head -1)
  echo "${f%.json}.tar.zst"
}
layers_of() { zstd -dc "$1" 2>/dev/null | grep -o '"tree"' | wc -l | tr -d ' '; }

# 300 files of ~10 KiB, few alike: about what a compiler cache holds
fill() {
  i=0
  while [ $i -lt 300 ]; do
    mkdir -p "$1/d$((i % 10))"
    head -c 7500 /dev/urandom | base64 >"$1/d$((i % 10))/f$i"
    i=$((i + 1))
  done
}
# change 2% of the files (rewritten with new content)
change() {
  for i in 3 57 101 150 222 299; do
    head -c 7500 /dev/urandom | base64 >"$1/d$((i % 10))/f$i"
  done
}
fill "$T/src/$first"

# the first save: one blob and, under the key, a small index naming it
run 0 save $c --dir "$T/src" --state "$T/s0.json" --key-extra v1 --run-id r1 --json
has '"action":	"saved"' out
[ "$(nblobs)" -eq 1 ] || fail "first save: $(nblobs) blobs, expected 1"
base_blob=$(find "$B" -type f)
base_size=$(size_of "$base_blob")
e1=$(entry_of_last_save)
zstd -dc "$e1" | grep -q '"bkcache_index":1' || fail "first save: the entry is not an index"
[ "$(size_of "$e1")" -lt 4096 ] || fail "first save: the index is $(size_of "$e1") bytes"
[ "$(layers_of "$e1")" -eq 1 ] || fail "first save: the index has $(layers_of "$e1") layers"
[ "$(json_num bytes)" -ge "$base_size" ] || fail "first save: reported fewer bytes than the blob"; ok

# restore: the exact tree, and the base record a delta save packs against
run 0 restore $c --dir "$T/d1" --state "$T/s1.json" --key-extra v1 --json --fail-on-error
has '"action":	"restored"' out
same_tree "$T/src" "$T/d1" || fail "restored tree differs"
[ -f "$T/d1/$first/.bkcache-base" ] || fail "no base record after a layered restore"
[ "$(json_num bytes)" -eq "$base_size" ] || fail "restore: bytes $(json_num bytes), the layer $base_size"; ok

# 2% of the files change: the save uploads a delta, much smaller than the base
change "$T/d1/$first"
run 0 save $c --dir "$T/d1" --state "$T/s1.json" --key-extra v2 --run-id r2 --json
has '"action":	"saved"' out
v2_digest=$(json_str digest)
[ "$(nblobs)" -eq 2 ] || fail "delta save: $(nblobs) blobs, expected 2"
delta_blob=$(find "$B" -type f ! -name "$(basename "$base_blob")")
delta_size=$(size_of "$delta_blob")
[ $((delta_size * 10)) -lt "$base_size" ] ||
  fail "delta save: the new blob is $delta_size bytes, the base $base_size"
[ "$(json_num bytes)" -lt $((base_size / 10)) ] ||
  fail "delta save: reported $(json_num bytes) bytes uploaded"
e2=$(entry_of_last_save)
[ "$(layers_of "$e2")" -eq 2 ] || fail "delta save: the index has $(layers_of "$e2") layers"
[ "$(json_num entry_layers)" -eq 2 ] || fail "delta save: the report says $(json_num entry_layers) layers"; ok

# restore of the delta: the exact tree, verified against the index's digest
run 0 restore $c --dir "$T/d2" --state "$T/s2.json" --key-extra v2 --json --fail-on-error
has '"hit":	"exact"' out
[ "$(json_str digest)" = "$v2_digest" ] || fail "restored digest is not the saved one"
[ "$(json_num entry_layers)" -eq 2 ] || fail "restore: the report says $(json_num entry_layers) layers"
[ "$(json_num bytes)" -eq $((base_size + delta_size)) ] || fail "restore: bytes are not the layers'"
same_tree "$T/d1" "$T/d2" || fail "the delta's restore differs from the saved tree"
run 0 restore $c --dir "$T/dl" --key-extra v2 --lookup-only --json
has '"action":	"found"' out
[ "$(json_num bytes)" -eq $((base_size + delta_size)) ] || fail "--lookup-only: not the layers' bytes"
[ ! -e "$T/dl" ] || fail "--lookup-only wrote the cache"
run 0 plan $c --dir "$T/dl" --key-extra v2 --json
[ "$(json_num bytes)" -eq $((base_size + delta_size)) ] || fail "plan: not the layers' bytes"; ok

# a layer missing, then corrupt: that entry is a miss and the restore falls
# back to the next restore key (v1: same Dockerfile, other extras)
mv "$delta_blob" "$T/delta.saved"
run 0 restore $c --dir "$T/d3" --state "$T/s3.json" --key-extra v2 --json
has '"hit":	"partial"' out
has '"action":	"restored"' out
has 'not usable' err
json_str matched_key | grep -q -- '-r1$' || fail "missing layer: did not fall back to v1"
same_tree "$T/src" "$T/d3" || fail "missing layer: the fallback's tree differs"; ok
cp "$T/delta.saved" "$delta_blob"
printf 'XXXXXXXXXXXXXXXX' | dd of="$delta_blob" bs=1 seek=200 conv=notrunc 2>/dev/null
[ "$(size_of "$delta_blob")" -eq "$delta_size" ] || fail "the corrupted blob changed size"
run 0 restore $c --dir "$T/d4" --state "$T/s4.json" --key-extra v2 --json
has '"hit":	"partial"' out
json_str matched_key | grep -q -- '-r1$' || fail "corrupt layer: did not fall back to v1"
same_tree "$T/src" "$T/d4" || fail "corrupt layer: the fallback's tree differs"
cp "$T/delta.saved" "$delta_blob"
# with no other candidate, a broken entry is a miss, never a partial cache
mv "$base_blob" "$T/base.saved"
run 0 restore $c --dir "$T/d4b" --state "$T/s4b.json" --key-extra v1 --json
has '"action":	"miss"' out
[ ! -e "$T/d4b/$first" ] || fail "a broken entry left a partial cache"
mv "$T/base.saved" "$base_blob"; ok

# a save killed after its blob, before its index: nothing under the key,
# and the next restore gets the previous complete entry
change "$T/d2/$first"
n_entries=$(nentries)
(BKCACHE_TEST_SAVE_PAUSE=index exec "$BK" save $c --dir "$T/d2" --state "$T/s2.json" \
  --key-extra v2 --run-id r3 >"$T/out" 2>"$T/err") &
kill_paused $! "save before its index"
[ "$(nblobs)" -eq 3 ] || fail "killed save: $(nblobs) blobs, expected its blob stored"
[ "$(nentries)" -eq "$n_entries" ] || fail "killed save: an entry was stored"
run 0 restore $c --dir "$T/d5" --state "$T/s5.json" --key-extra v2 --json --fail-on-error
json_str matched_key | grep -q -- '-r2$' || fail "after the killed save: not the r2 entry"
same_tree "$T/d1" "$T/d5" || fail "after the killed save: not the previous tree"; ok

# a delta whose parent layer is gone from the store (pruned, evicted) is
# packed again in full
rm -rf "$T/d7" && cp -r "$T/d5" "$T/d7"
change "$T/d7/$first"
mv "$base_blob" "$T/base.saved"
run 0 save $c --dir "$T/d7" --state "$T/s5.json" --key-extra v3 --run-id r4 --json
has '"action":	"saved"' out
[ "$(layers_of "$(entry_of_last_save)")" -eq 1 ] || fail "parent gone: the save is not a full pack"
[ "$(json_num bytes)" -gt $((base_size / 2)) ] || fail "parent gone: not the full tree uploaded"
mv "$T/base.saved" "$base_blob"
run 0 restore $c --dir "$T/d8" --state "$T/s9.json" --key-extra v3 --json --fail-on-error
has '"hit":	"exact"' out
same_tree "$T/d7" "$T/d8" || fail "parent gone: the full pack's restore differs"; ok

# two keys ("branches") with the same tree share its blob: stored once
n=$(nblobs)
run 0 save $c --dir "$T/src" --state "$T/s6.json" --key-extra branch-b --run-id b1 --json
has '"action":	"saved"' out
[ "$(nblobs)" -eq "$n" ] || fail "another key's save of the same tree stored another blob"
[ "$(json_num bytes)" -lt 4096 ] || fail "the shared blob was uploaded again"
[ "$(layers_of "$(entry_of_last_save)")" -eq 1 ] || fail "branch-b: not one layer"; ok

# --delta off: one plain archive under the key, as before delta saves
run 0 save $c --dir "$T/src" --state "$T/s7.json" --key-extra plain --run-id p1 --delta off --json
has '"action":	"saved"' out
[ "$(nblobs)" -eq "$n" ] || fail "--delta off stored a blob"
ep=$(entry_of_last_save)
zstd -dc "$ep" | tar -tf - 2>/dev/null | grep -q '^.bkcache/manifest.json$' ||
  fail "--delta off: the entry is not an archive"
[ "$(json_num bytes)" -eq "$(size_of "$ep")" ] || fail "--delta off: bytes are not the archive's"
[ "$(json_num entry_layers)" -eq 0 ] || fail "--delta off: the report says layers"
run 2 save $c --dir "$T/src" --delta sometimes
has "auto or off" err; ok

# an old entry, a plain archive, still restores (no base record: the next
# save packs in full)
run 0 restore $c --dir "$T/d6" --state "$T/s8.json" --key-extra plain --json --fail-on-error
has '"action":	"restored"' out
same_tree "$T/src" "$T/d6" || fail "plain archive: restored tree differs"
[ ! -e "$T/d6/$first/.bkcache-base" ] || fail "plain archive: a base record appeared"
change "$T/d6/$first"
run 0 save $c --dir "$T/d6" --state "$T/s8.json" --key-extra plain2 --run-id p2 --json
[ "$(layers_of "$(entry_of_last_save)")" -eq 1 ] || fail "save after a plain restore: not full"; ok

echo "dirmode_delta: $passed passed"
