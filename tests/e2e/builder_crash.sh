#!/bin/sh
# builder_crash.sh - restores killed for real, and what comes after them.
#
# The store holds the "new" version of a cache (2000 files); the builder's
# cache holds the "old" one (200 files). `bkcache restore --force` of the new
# version is then stopped, each time differently:
#   1. the helper inside the transfer build killed (SIGKILL) during unpack;
#   2. the helper killed during the swap (the cache has started to change);
#   3. the BuildKit client's process group killed (SIGKILL) during the swap;
#   4. bkcache asked to stop (SIGTERM) during the swap;
#   5. bkcache killed (SIGKILL) during the swap.
# A save cancelled (SIGTERM) while the helper packs (6) must cancel its build
# and store nothing.
# The kill lands exactly there: BKCACHE_TEST_HELPER_PAUSE makes the helper
# stop at the named point and rename itself "bkcache-paused" (helper/main.c),
# which this script looks for in /proc before it kills.
# After 1-4 (bkcache lived on) the user's build must see the old version, the
# new one or an empty cache, and none of bkcache's own files. After 5 the
# cache may be a mix, but marked: a save refuses it and says why. Then, every
# time, a plain restore (no --force) must bring the new version, the user's
# build must see exactly it, and a save must store exactly it (the same
# content digest as the first save).
# Uses only lib.sh's bk and ubuild, so it runs with whichever client and
# driver lib.sh selects.
. "$(dirname "$0")/lib.sh"
e2e_init crash

cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch AS work
COPY busybox /bin/busybox
ARG ACTION=list
ARG BKCACHE_E2E_NONCE
RUN --mount=type=cache,id=crash-c,target=/c ["/bin/busybox", "sh", "-c", "\
  bb=/bin/busybox; $bb mkdir -p /out; \
  case $ACTION in \
  old) $bb rm -rf /c/* /c/.[!.]*; for i in $($bb seq 1 200); do echo old $i >/c/old-$i; done ;; \
  new) $bb rm -rf /c/* /c/.[!.]*; $bb mkdir /c/d1 /c/d2; \
       for i in $($bb seq 1 1000); do echo new $i >/c/d1/new-$i; echo new $i >/c/d2/new-$i; done ;; \
  esac; \
  cd /c && $bb find . | $bb grep -vx ./.bkcache-base | $bb sort >/out/list"]

FROM scratch
COPY --from=work /out/ /
DF

# the content digest of the entry the last save stored (its index or manifest)
saved_digest() {
  key=$(sed -n 's/.*: saved \([^ ]*\) .*/\1/p' "$T/bk.out" | head -1)
  [ -n "$key" ] || return 1
  meta=$(grep -l "\"$key\"" "$T/store"/entries/*.json | head -1)
  [ -n "$meta" ] || return 1
  # an index (delta saves) names the digest first; a plain archive in its manifest
  { zstd -dc <"${meta%.json}.tar.zst" 2>/dev/null | grep -a '"bkcache_index"' ||
    zstd -dc <"${meta%.json}.tar.zst" 2>/dev/null | tar -xOf - .bkcache/manifest.json 2>/dev/null; } |
    tr -d ' \t\n' | grep -o '"digest":"sha256:[0-9a-f]*"' | head -1 | sed 's/.*sha256:\([0-9a-f]*\)"/\1/'
}

# the pid of the paused helper, once it is paused (60 s at most)
paused_helper() {
  i=0
  while [ $i -lt 600 ]; do
    for c in /proc/[0-9]*/comm; do
      if [ "$(cat "$c" 2>/dev/null)" = bkcache-paused ]; then
        p=${c#/proc/}
        echo "${p%/comm}"
        return 0
      fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# lib.sh's bk CMD ARGS... in the background with the helper stopping at
# POINT: bk_paused_at POINT CMD ARGS...; BKPID is bkcache's pid, SUB the
# subshell's (wait for it: its status is bkcache's), HELPER the helper's
bk_paused_at() {
  point=$1
  shift
  (
    export BKCACHE_TEST_HELPER_PAUSE="$point"
    bk "$@"
  ) &
  SUB=$!
  HELPER=$(paused_helper) || { kill -9 $SUB; fail "the helper never paused at $point"; }
  BKPID=$(cat /proc/$SUB/task/*/children | awk '{print $1}')
  check '[ -n "$BKPID" ] && grep -q bkcache /proc/$BKPID/comm' "bkcache is not running"
}

# restore --force of the new version in the background, stopped at $1
restore_paused_at() {
  bk_paused_at "$1" restore --force --key-extra v
}

# the user's build sees exactly one of: $T/old, $T/new, an empty cache
sees_old_new_or_empty() {
  ubuild || fail "$1: the user's build failed"
  grep -q '\.bkcache' "$T/out/list" && fail "$1: the user's build sees bkcache's own files"
  if cmp -s "$T/out/list" "$T/old"; then seen=old
  elif cmp -s "$T/out/list" "$T/new"; then seen=new
  elif [ "$(cat "$T/out/list")" = "." ]; then seen=empty
  else
    diff "$T/new" "$T/out/list" | head -5 >&2
    fail "$1: the user's build sees a mix"
  fi
  pass "$1: the user's build then sees the $seen version, not a mix"
}

# plain restore, the user's build, a save: the new version, exactly
then_restore_and_save() {
  bk restore --key-extra v || fail "$1: the plain restore failed"
  check 'grep -q "crash-c.*: restored" "$T/bk.out"' "$1: a plain restore did not replace the cache"
  ubuild || fail "$1: the user's build after the restore failed"
  cmp -s "$T/out/list" "$T/new" || fail "$1: after a plain restore the cache is not the new version"
  bk save --key-extra "check-$2" --state "$T/none.json" || fail "$1: save failed"
  check '[ "$(saved_digest)" = "$NEW_DIGEST" ]' "$1: save did not store exactly the new version"
  pass "$1: a plain restore brings the new version and a save stores exactly it"
}

# the new version into the store, the old one into the cache
prune
ubuild --build-arg ACTION=new || fail "the fill build failed"
cp "$T/out/list" "$T/new"
check '[ "$(wc -l <"$T/new")" = 2003 ]' "the new version is not 2000 files"
bk save --key-extra v || fail "the first save failed"
NEW_DIGEST=$(saved_digest)
check '[ -n "$NEW_DIGEST" ]' "no digest in the first archive"
reset_old() {
  ubuild --build-arg ACTION=old || fail "the reset build failed"
  cp "$T/out/list" "$T/old"
  check '[ "$(wc -l <"$T/old")" = 201 ]' "the old version is not 200 files"
}

# 1, 2: the helper killed
for point in unpack swap; do
  reset_old
  restore_paused_at $point
  kill -9 "$HELPER"
  wait $SUB
  rc=$?
  check '[ $rc = 0 ]' "helper killed at $point: bkcache exited $rc (a cache failure must not fail the build)"
  check 'grep -q "crash-c" "$T/bk.err"' "helper killed at $point: bkcache did not report the failed restore"
  sees_old_new_or_empty "helper killed during $point"
  then_restore_and_save "helper killed during $point" "helper-$point"
done

# 3: the client killed
reset_old
restore_paused_at swap
CLIENT=$(cat /proc/$BKPID/task/*/children | awk '{print $1}')
check '[ -n "$CLIENT" ]' "bkcache has no client process"
kill -9 "-$CLIENT"
wait $SUB
rc=$?
check '[ $rc = 0 ]' "client killed: bkcache exited $rc"
check 'grep -q "emptied" "$T/bk.err"' "client killed: bkcache did not empty the half-replaced cache"
sees_old_new_or_empty "client killed during the swap"
then_restore_and_save "client killed during the swap" client

# 4: bkcache cancelled (SIGTERM): the build is cancelled, the cache repaired
reset_old
restore_paused_at swap
kill -TERM $BKPID
wait $SUB
rc=$?
check '[ $rc = 143 ]' "SIGTERM: bkcache exited $rc, not by the signal"
check '[ -z "$(cat /proc/$HELPER/comm 2>/dev/null)" ]' "SIGTERM: the helper still runs"
sees_old_new_or_empty "bkcache cancelled during the swap"
then_restore_and_save "bkcache cancelled during the swap" term

# 5: bkcache killed (SIGKILL): its client dies too; the next run repairs
reset_old
restore_paused_at swap
CLIENT=$(cat /proc/$BKPID/task/*/children | awk '{print $1}')
kill -9 $BKPID
wait $SUB 2>/dev/null
i=0
while [ -d "/proc/$CLIENT" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check '[ ! -d "/proc/$CLIENT" ]' "SIGKILL: the client outlived bkcache"
i=0
while [ -n "$(cat /proc/$HELPER/comm 2>/dev/null)" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check '[ -z "$(cat /proc/$HELPER/comm 2>/dev/null)" ]' "SIGKILL: the transfer build was not cancelled"
pass "bkcache killed: its client and transfer build died with it"
bk save --key-extra refused --state "$T/none.json"
check 'grep -q "restore that did not finish" "$T/bk.err"' "SIGKILL: save did not refuse the unfinished restore"
check '! grep -q ": saved" "$T/bk.out"' "SIGKILL: save stored the unfinished restore"
pass "bkcache killed: a save refuses the half-replaced cache and says why"
then_restore_and_save "bkcache killed during the swap" kill
sees_old_new_or_empty "bkcache killed, then a plain restore"
# 6: a save cancelled (SIGTERM) while the helper packs: its build is cancelled,
# nothing is stored, the cache is untouched (a full pack: the cache is what
# was restored, so a delta pack would write no member to pause at)
n_entries=$(ls "$T/store/entries" | wc -l)
bk_paused_at pack save --state "$T/none.json" --key-extra cancelled --delta off
kill -TERM $BKPID
wait $SUB
rc=$?
check '[ $rc = 143 ]' "cancelled save: bkcache exited $rc, not by the signal"
i=0
while [ -n "$(cat /proc/$HELPER/comm 2>/dev/null)" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check '[ -z "$(cat /proc/$HELPER/comm 2>/dev/null)" ]' "cancelled save: the transfer build still runs"
check '[ "$(ls "$T/store/entries" | wc -l)" = "$n_entries" ]' "cancelled save: something was stored"
ubuild || fail "the user's build after the cancelled save failed"
cmp -s "$T/out/list" "$T/new" || fail "cancelled save: the cache changed"
pass "a cancelled save cancels its build, stores nothing and leaves the cache as it was"
e2e_done
