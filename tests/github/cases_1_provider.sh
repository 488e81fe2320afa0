# cases_provider.sh - the provider against the emulator, through gh_client (sourced by run.sh).
# shellcheck shell=bash

G=$GH_CLIENT
D=$WORK/prov
mkdir -p "$D"

# version string, computed like the official client (spec §3.6 test vector)
check "version matches @actions/cache for path 'data'" \
  bash -c "[ \"\$($G -o path=data version)\" = 3ad75f27293d65a135214b8c82b296080f911dc107e52f1e7ec871a2eda46e69 ]"

# v2 small save: one Put Blob, then exact restore
reset
rand_file "$D/small" 300000
check "v2 save of a small archive" $G -i id1 save small-key-1 "$D/small"
check "v2 small save used one Put Blob" test "$(stat_of blob.putblob)" = 1
check "v2 restore by exact key" $G -i id1 restore "$D/small.out" small-key-1
check "v2 restored bytes are identical" cmp "$D/small" "$D/small.out"
check "v2 key match is case-insensitive, stored case returned" \
  bash -c "$G -i id1 lookup SMALL-KEY-1 | grep -q 'key=small-key-1 '"
expect_exit "v2 miss: unknown key" 6 $G -i id1 lookup no-such-key
expect_exit "v2 miss: same key, other identity (version)" 6 $G -i id2 lookup small-key-1
expect_exit "v2 save of an existing key is EEXISTS" 3 $G -i id1 save small-key-1 "$D/small"
check "EEXISTS message says another job saved it" grep -q "another job saved it first" "$WORK/last"

# restore keys: the newest prefix match wins
rand_file "$D/p1" 1000
rand_file "$D/p2" 2000
$G -i pfx save deps-aaa-1 "$D/p1" >/dev/null 2>&1
sleep 0.05
$G -i pfx save deps-aaa-2 "$D/p2" >/dev/null 2>&1
check "v2 restore key: newest prefix match wins" \
  bash -c "$G -i pfx restore $D/p.out deps-zzz deps-nomatch- deps-aaa- | grep -q 'key=deps-aaa-2 '"
check "v2 restore key: restored the newest entry's bytes" cmp "$D/p2" "$D/p.out"

# key rules are checked before any request
before=$(stat_of twirp.GetCacheEntryDownloadURL)
expect_exit "key with a comma is refused" 2 $G -i id1 lookup "a,b"
expect_exit "more than 10 keys are refused" 2 $G -i id1 lookup k r1 r2 r3 r4 r5 r6 r7 r8 r9 r10
expect_exit "a 513-character key is refused" 2 $G -i id1 lookup "$(printf 'k%.0s' $(seq 1 513))"
check "refused keys sent no request" test "$(stat_of twirp.GetCacheEntryDownloadURL)" = "$before"

# 300 MB archive in parallel blocks, and back in parallel ranges
reset
rand_file "$D/big" $((300 * 1024 * 1024))
check "v2 save of a 300 MB archive" $G -i big save big-key "$D/big"
# 5 blocks of 64 MiB, the official client's v2 block size; a block retried on a
# loaded machine adds a request, never a block
check "300 MB went as 5 Put Blocks (retries aside) + 1 Put Block List" \
  test "$(stat_of blob.putblock)" -ge 5 -a "$(stat_of blob.putblock)" -le 9 -a "$(stat_of blob.blocklist)" = 1
check "v2 restore of the 300 MB archive" $G -i big restore "$D/big.out" big-key
check "300 MB came back in 38 ranged GETs of 8 MiB (retries aside)" \
  test "$(stat_of blob.getrange)" -ge 38 -a "$(stat_of blob.getrange)" -le 42
check "300 MB restored identical" cmp "$D/big" "$D/big.out"
rm -f "$D/big.out"

# a download cut halfway resumes where it stopped
rand_file "$D/mid" $((20 * 1024 * 1024))
$G -i mid save mid-key "$D/mid" >/dev/null 2>&1
fault '{"blobCut":1}'
check "download cut halfway is resumed" $G -i mid restore "$D/mid.out" mid-key
check "the cut really happened" test "$(stat_of fault.blobCut)" = 1
check "resumed download is identical" cmp "$D/mid" "$D/mid.out"
check "resume asked only for the rest (a ranged GET)" test "$(stat_of blob.getrange)" -ge 1

# 429 with Retry-After on the data plane: the block is retried after the delay
fault '{"blob429":{"count":1,"retryAfter":2}}'
start=$(date +%s%N)
check "blob 429 + Retry-After: save still succeeds" $G -i r429 save r429-key "$D/small"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "blob 429 + Retry-After: waited at least 2 s (${elapsed} ms)" test "$elapsed" -ge 1900
fault '{"blob503":2}'
check "blob 503 twice: retried and restored" $G -i r429 restore "$D/r.out" r429-key

# 429 with Retry-After on the control plane: transient, with the delay for core's retry loop
fault '{"twirp429":{"count":1,"retryAfter":3}}'
expect_exit "twirp 429 is transient" 4 $G -i mid lookup mid-key
check "twirp 429 records Retry-After 3000 ms" grep -q "retry_after=3000" "$WORK/last"
check "after the 429 the same call succeeds" $G -i mid lookup mid-key
fault '{"twirp503":1}'
expect_exit "twirp 503 is transient" 4 $G -i id1 lookup small-key-1

# two jobs saving the same key at once: one wins, the other gets EEXISTS
rand_file "$D/race" 100000
( $G -i race save race-emu-slow-finalize "$D/race" >"$D/race1" 2>&1; echo $? >"$D/race1.rc" ) &
r1=$!
( $G -i race save race-emu-slow-finalize "$D/race" >"$D/race2" 2>&1; echo $? >"$D/race2.rc" ) &
r2=$!
wait $r1 $r2
check "concurrent saves: one wins, one gets EEXISTS" \
  test "$(cat "$D/race1.rc" "$D/race2.rc" | sort | tr '\n' ' ')" = "0 3 "

# a save that dies after reserving its key (here: every block upload fails) leaves the key
# reserved; the next save says so, and fails (exit 1), instead of "another job saved it"
rand_file "$D/dead" 100000
fault '{"blob503":1000}'
expect_exit "a save whose blocks all fail is a transient failure" 4 $G -i dead save dead-key "$D/dead"
fault '{"blob503":0}'
check "the dead save left its key reserved, not committed" \
  bash -c "curl -fsS $EMU/_emu/entries | grep -q '\"key\":\"dead-key\",[^}]*\"final\":false'"
expect_exit "the next save of that key is a failure, not a skip" 1 $G -i dead save dead-key "$D/dead"
check "its message explains the unfinished save" grep -q "reserved by a save that has not finished" "$WORK/last"
expect_exit "restores of the reserved key miss" 6 $G -i dead lookup dead-key

# tokens: expired, wrong signature, read-only
expect_exit "expired token is denied" 5 env ACTIONS_RUNTIME_TOKEN="$(token '' -60)" \
  $G -i id1 lookup small-key-1
expect_exit "token with a wrong signature is denied" 5 \
  env ACTIONS_RUNTIME_TOKEN="${MAIN_TOKEN%.*}.AAAA" $G -i id1 lookup small-key-1
GH_CLIENT_DEBUG=1 $G -i mid restore "$D/dbg.out" mid-key >"$D/dbg.log" 2>&1
check "debug output has neither the token nor a SAS signature" \
  bash -c "! grep -qF '${MAIN_TOKEN##*.}' $D/dbg.log && ! grep -q 'sig=' $D/dbg.log && grep -q 'github:' $D/dbg.log"
RO=$(token '[{"Scope":"refs/heads/main","Permission":1}]')
expect_exit "read-only token: save is denied" 5 env ACTIONS_RUNTIME_TOKEN="$RO" \
  $G -i ro save ro-key "$D/small"
check "read-only token: message says write denied" grep -q "cache write denied" "$WORK/last"

# branch scopes: a feature branch sees main's entries, main does not see the feature's
FEAT=$(token '[{"Scope":"refs/heads/feature","Permission":3},{"Scope":"refs/heads/main","Permission":1}]')
check "feature branch restores main's entry" env ACTIONS_RUNTIME_TOKEN="$FEAT" \
  $G -i mid lookup mid-key
check "feature branch saves into its own scope" env ACTIONS_RUNTIME_TOKEN="$FEAT" \
  $G -i id1 save feature-only "$D/small"
expect_exit "main does not see the feature's entry" 6 $G -i id1 lookup feature-only

# service v1: reserve, parallel chunked PATCH, commit, lookup, download
reset
rand_file "$D/v1" $((70 * 1024 * 1024))
check "v1 save (70 MB: 3 chunks)" v1_env $G -i v1 save v1-key "$D/v1"
check "v1 sent 3 PATCH chunks" test "$(stat_of v1.PATCH.caches)" = 3
check "v1 restore" v1_env $G -i v1 restore "$D/v1.out" v1-key
check "v1 restored identical" cmp "$D/v1" "$D/v1.out"
expect_exit "v1 miss is not-found" 6 v1_env $G -i v1 lookup v1-none
expect_exit "v1 duplicate is EEXISTS" 3 v1_env $G -i v1 save v1-key "$D/small"
check "v1 restore key prefix" bash -c "v1_env() { env -u ACTIONS_CACHE_SERVICE_V2 ACTIONS_CACHE_URL=$EMU/ \"\$@\"; }; v1_env $G -i v1 lookup nope v1- | grep -q 'key=v1-key '"
check "no v2 calls were made in v1 mode" test "$(stat_of twirp.CreateCacheEntry)" = 0
rm -f "$D/v1" "$D/v1.out" "$D/big"
