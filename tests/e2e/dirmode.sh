#!/bin/sh
# dirmode.sh - end-to-end tests of save, restore, plan, ls and prune in
# directory mode (--dir) with the local store, run through the real CLI on
# examples/Dockerfile (tests/e2e/Dockerfile.dirmode while that is missing).
# Checks outputs and exit statuses; prints "dirmode: N passed" or the first
# failure. BKCACHE names the binary (default ./bkcache).
NAME=dirmode
. tests/e2e/dirmode_lib.sh
common="-f $df --provider local --store $T/store"

# plan: lists identities, touches nothing
run 0 plan $common --dir "$T/src" --state "$T/s1.json"
names=$(grep -E '^[A-Za-z0-9._-]+$' "$T/out")
[ "$(echo "$names" | grep -c .)" -ge 2 ] || fail "plan shows fewer than 2 caches"
has "restore:      miss" out
has "provider: local" out
[ ! -e "$T/store" ] && [ ! -e "$T/s1.json" ] || fail "plan wrote something"
run 0 plan $common --dir "$T/src" --state "$T/s1.json" --json
has '"restore":	"miss"' out
[ "$(grep -c '"name"' "$T/out")" -eq "$(echo "$names" | grep -c .)" ] || fail "plan --json"; ok
first=$(echo "$names" | head -1)
second=$(echo "$names" | sed -n 2p)

# restore into nothing: a miss is exit 0, or 1 with --fail-on-cache-miss
run 0 restore $common --dir "$T/dst" --state "$T/s1.json"
has "$first: miss" out; ok
run 1 restore $common --dir "$T/dst" --state "$T/s1.json" --fail-on-cache-miss; ok

# save: an empty cache is not saved; filled ones are
mkdir -p "$T/src"
sh scripts/demo-dir.sh --fill "$T/src/$first" 1
run 0 save $common --dir "$T/src" --state "$T/s1.json"
has "$first: saved" out
has "$second: empty" out; ok
seed=2
for n in $(echo "$names" | sed 1d); do
  sh scripts/demo-dir.sh --fill "$T/src/$n" $seed
  seed=$((seed + 1))
done
run 0 save $common --dir "$T/src" --state "$T/s1.json" --json
has '"action":	"saved"' out; ok

# ls lists the entries: one per cache, and a second run of $first (each
# save outside CI is its own run, and nothing told the second save that
# $first had not changed)
run 0 ls --provider local --store "$T/store"
[ "$(grep -c "^bkcache" "$T/out")" -ge 2 ] || fail "ls shows fewer than 2 entries"
run 0 ls --provider local --store "$T/store" --json
[ "$(grep -c '"key"' "$T/out")" -eq "$(($(echo "$names" | grep -c .) + 1))" ] ||
  fail "ls --json: expected one entry per cache and two of $first"; ok

# restore: exact hits, identical trees, a state file
run 0 restore $common --dir "$T/dst" --state "$T/s2.json" --fail-on-cache-miss --fail-on-error
has "$first: restored" out
has "exact hit" out
diff -r -x .bkcache-base "$T/src" "$T/dst" >/dev/null || fail "restored trees differ"
grep -q '"hit":	"exact"' "$T/s2.json" || fail "state file lacks the exact hit"; ok

# restoring again into a warm directory skips unless --force
run 0 restore $common --dir "$T/dst" --state "$T/s3.json"
has "$first: skipped" out; ok

# save after restore: unchanged caches are not uploaded
run 0 save $common --dir "$T/dst" --state "$T/s2.json"
has "$first: unchanged" out
has "same digest" out; ok

# the state is per store: the same state into a new, empty store uploads
# everything and claims no hit there
run 0 save -f $df --provider local --store "$T/store-b" --dir "$T/dst" --state "$T/s2.json"
has "$first: saved" out
has "$second: saved" out
! grep -q "exact hit" "$T/out" || fail "save into another store reported restore's exact hit"
[ "$(find "$T/store-b" -name '*.tar.zst' | wc -l)" -ge 2 ] || fail "the new store is empty"
grep -q '"store":	"local-' "$T/s2.json" || fail "the state file does not name the store"; ok
echo changed >"$T/dst/$first/new-file"
run 0 save $common --dir "$T/dst" --state "$T/s2.json"
has "$first: saved" out
has "$second: unchanged" out; ok

# other keys: a partial hit from a restore-key prefix
run 0 restore $common --key-extra v2 --dir "$T/dst2" --state "$T/s4.json" --json
has '"hit":	"partial"' out
[ -f "$T/dst2/$first/new-file" ] || fail "partial restore did not pick the newest entry"
run 1 restore $common --key-extra v2 --dir "$T/dst3" --state "$T/s4.json" --fail-on-cache-miss; ok

# --lookup-only: reports, downloads nothing, writes no state
run 0 restore $common --dir "$T/dst4" --state "$T/s5.json" --lookup-only
has "$first: found" out
[ ! -e "$T/dst4" ] && [ ! -e "$T/s5.json" ] || fail "--lookup-only wrote something"; ok

# --mount filters; an unknown name is exit 2 and lists the names
run 0 restore $common --dir "$T/dst5" --state "$T/s6.json" --mount "$second"
grep -q "^$first:" "$T/out" && fail "--mount did not filter"
run 2 restore $common --dir "$T/dst5" --mount nope
has "nope" err
has "$first" err; ok

# without --dir the caches live in a builder; with no client to reach one,
# every cache fails with the explanation (a warning, exit 0)
run 0 save $common --docker /nonexistent/docker
has "no BuildKit client found" err; ok

# a broken store is a warning, exit 0, or 1 with --fail-on-error
: >"$T/notadir"
run 0 restore -f "$df" --provider local --store "$T/notadir" --dir "$T/dst6" --state "$T/s7.json"
has "$first: error" out
run 1 restore -f "$df" --provider local --store "$T/notadir" --dir "$T/dst6" \
  --state "$T/s7.json" --fail-on-error
run 0 save -f "$df" --provider local --store "$T/notadir" --dir "$T/src" --state "$T/s7.json"
run 1 save -f "$df" --provider local --store "$T/notadir" --dir "$T/src" --state "$T/s7.json" \
  --fail-on-error; ok

# one run saving twice replaces its entry on this store (keys are mutable)
cs="-f $df --provider local --store $T/storeR --dir $T/src --state $T/r1.json --run-id r1"
run 0 save $cs
run 0 save $cs
run 0 ls --provider local --store "$T/storeR" --json
[ "$(grep -c '"key"' "$T/out")" -eq "$(echo "$names" | grep -c .)" ] ||
  fail "one run saving twice: expected one entry per cache"; ok

# caches that keep learning: runs of one key (tests/learning/scenario.sh)
ROOT=$(pwd) BKCACHE=$BK
. tests/learning/scenario.sh
learning_scenario "$T/learn" 1 --provider local --store "$T/storeL" 2>"$T/err" ||
  fail "learning scenario"; ok
run 0 prune --provider local --store "$T/storeL" --keep-per-key 1
has "removed" out
[ "$(grep -c '^removed' "$T/out")" -eq 2 ] || fail "prune --keep-per-key 1: expected 2 removed"; ok

# plan after saving: would restore exact hits, shows the key save writes
run 0 plan $common --dir "$T/dst" --state "$T/s2.json" --run-id p1
has "restore:      exact hit" out
has "saves as:     bkcache-.*-p1\$" out
has "run part: p1 (from --run-id)" out
run 0 plan $common --dir "$T/dst" --state "$T/s2.json" --json
has '"run_source":	"the clock' out; ok
GITHUB_RUN_ID=42 GITHUB_RUN_ATTEMPT=3 "$BK" key -f "$df" >"$T/out" 2>"$T/err"
has "saves:   bkcache-.*-gh42\.3\$" out
has "run part gh42.3: from GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT" out; ok

# killed restores: the swap is one rename, so the target is still the old
# version; the next run removes what the killed one left beside the target
# and in $TMPDIR. BKCACHE_TEST_HELPER_PAUSE stops the unpack at the point
# named (bkcache renames itself bkcache-paused there) so the kill lands there.
K=$T/kill
mkdir -p "$K/tmp"
kc="-f $df --provider local --store $K/store --mount $first --key-extra kill"
cp -r "$T/src/$first" "$K/old" && echo other >"$K/old/other-file"
run 0 save $kc --dir "$T/src" --state "$K/s.json"
krun() { env TMPDIR="$K/tmp" "$BK" restore $kc --dir "$K/dst" --state "$K/s.json" --force "$@"; }
for point in unpack swap; do
  rm -rf "$K/dst" && mkdir -p "$K/dst" && cp -r "$K/old" "$K/dst/$first"
  (BKCACHE_TEST_HELPER_PAUSE=$point exec env TMPDIR="$K/tmp" "$BK" restore $kc --dir "$K/dst" \
    --state "$K/s.json" --force >"$T/out" 2>"$T/err") &
  kill_paused $! "restore at $point"
  diff -r -x .bkcache-base "$K/old" "$K/dst/$first" >/dev/null || fail "killed at $point: the target changed"
  ls -A "$K/dst" | grep -q "^\.$first\.bkcache-" || fail "killed at $point: nothing left beside the target"
  ls -A "$K/tmp" | grep -q "^bkcache-work-" || fail "killed at $point: nothing left in TMPDIR"
  krun >"$T/out" 2>"$T/err" || fail "the restore after the kill at $point failed"
  has "$first: restored" out
  diff -r -x .bkcache-base "$T/src/$first" "$K/dst/$first" >/dev/null || fail "after the kill at $point: not the new version"
  [ "$(ls -A "$K/dst")" = "$first" ] || fail "after the kill at $point: leftovers beside the target"
  [ -z "$(ls -A "$K/tmp")" ] || fail "after the kill at $point: leftovers in TMPDIR"
  ok
done

# a killed save: nothing is stored, and the next run removes its leftovers
n_entries=$(ls "$K/store/entries" | wc -l)
(BKCACHE_TEST_HELPER_PAUSE=pack exec env TMPDIR="$K/tmp" "$BK" save $kc --key-extra save \
  --dir "$T/src" --state "$K/s2.json" >"$T/out" 2>"$T/err") &
kill_paused $! "save at pack"
ls -A "$K/tmp" | grep -q "^bkcache-work-" || fail "killed save: nothing left in TMPDIR"
[ "$(ls "$K/store/entries" | wc -l)" = "$n_entries" ] || fail "killed save: something was stored"
env TMPDIR="$K/tmp" "$BK" save $kc --key-extra save --dir "$T/src" --state "$K/s2.json" \
  >"$T/out" 2>"$T/err" || fail "the save after the kill failed"
has "$first: saved" out
[ -z "$(ls -A "$K/tmp")" ] || fail "after the killed save: leftovers in TMPDIR"; ok

# prune: least recently used first
n_before=$("$BK" ls --provider local --store "$T/store" --json | grep -c '"key"')
run 0 prune --provider local --store "$T/store" --keep 1
has "removed" out
n_after=$("$BK" ls --provider local --store "$T/store" --json | grep -c '"key"')
[ "$n_before" -gt 1 ] && [ "$n_after" -eq 1 ] || fail "prune --keep 1 left $n_after of $n_before"
run 0 prune --provider local --store "$T/store" --max-size 1 --json
has '"kept":	0' out; ok
run 2 prune --provider local --store "$T/store" --max-age 3x; ok

echo "dirmode: $passed passed"
