#!/bin/bash
# bench_github.sh - GitHub cache transfer throughput (make bench): bkcache's blob layer
# (parallel Put Block / ranged GET through the github provider and the emulator) against
# Azurite on loopback, beside a single-stream curl of the same file to the same Azurite
# (one Put Blob, one GET). The signed URLs point straight at Azurite (no proxy).
#
# BENCH_GH_MB sets the file size (default 256), BENCH_RUNS the rounds (default 3;
# medians are printed). Prints a table; the numbers in
# docs/benchmarks.md ("GitHub cache transfers") are copied from it by hand.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/github
WORK=$(mktemp -d /tmp/bk-bench-github.XXXXXX)
PIDS=()
MB=${BENCH_GH_MB:-256}
RUNS=${BENCH_RUNS:-3}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

make -s -C "$ROOT" build/tests/github/gh_client >/dev/null || exit 1
G=$ROOT/build/tests/github/gh_client
# shellcheck source=tests/github/services.sh
. "$HERE/services.sh"
start_services || exit 1
curl -fsS -X POST -d '{"proxy":false}' "$EMU/_emu/faults" >/dev/null
export ACTIONS_RESULTS_URL="$EMU/" ACTIONS_CACHE_SERVICE_V2=true
ACTIONS_RUNTIME_TOKEN=$(token)
export ACTIONS_RUNTIME_TOKEN

head -c $((MB * 1024 * 1024)) /dev/urandom >"$WORK/file"
now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rate() { awk -v mb="$MB" -v s="$1" 'BEGIN { printf "%.1f", mb / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
timed() { local t0 t1; t0=$(now); "$@" >/dev/null || return 1; t1=$(now); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
sas() { curl -fsS -G "$EMU/_emu/sas" --data-urlencode "blob=$1" --data-urlencode "sp=$2"; }

# Each round: bkcache saves a new entry (parallel Put Block + Put Block List)
# and restores it (HEAD + parallel ranged GETs); curl puts the same file as
# one Put Blob, and reads both that blob and the block blob bkcache wrote.
# The two uploads take turns going first, and both blobs are deleted at the
# end of the round: Azurite keeps blobs in its heap here, and every upload
# slowed down as they piled up (2.7 s for the first round's, 3.8 s for the
# fifth's), which favoured whichever side went first.
bk_up() {
  timed "$G" -i bench save "bench-$r" "$WORK/file" >>"$WORK/up_bk" 2>>"$WORK/log" ||
    { echo "bkcache upload failed"; cat "$WORK/log"; exit 1; }
}
curl_up() {
  timed curl -fsS -o /dev/null -X PUT -T "$WORK/file" -H "x-ms-blob-type: BlockBlob" \
    -H "x-ms-version: 2024-11-04" -H "Expect:" "$put" >>"$WORK/up_curl" ||
    { echo "curl upload failed"; exit 1; }
}
delete_blob() {
  curl -fsS -o /dev/null -X DELETE -H "x-ms-version: 2024-11-04" "$(sas "$1" d)" ||
    { echo "deleting $1 failed"; exit 1; }
}
for r in $(seq "$RUNS"); do
  put=$(sas "bench/curl-$r" cw) && get=$(sas "bench/curl-$r" r) || exit 1
  if [ $((r % 2)) = 1 ]; then bk_up; curl_up; else curl_up; bk_up; fi
  timed "$G" -i bench restore "$WORK/out" "bench-$r" >>"$WORK/down_bk" 2>>"$WORK/log" ||
    { echo "bkcache download failed"; exit 1; }
  cmp -s "$WORK/file" "$WORK/out" || { echo "bkcache download differs"; exit 1; }
  rm -f "$WORK/out"
  timed curl -fsS -o /dev/null "$get" >>"$WORK/down_curl_put" || { echo "curl download failed"; exit 1; }
  blob=$(curl -fsS "$EMU/_emu/entries" |
    sed -n "s/.*\"key\":\"bench-$r\"[^}]*\"blob\":\"\\([^\"]*\\)\".*/\\1/p")
  same=$(sas "$blob" r) || exit 1
  timed curl -fsS -o /dev/null "$same" >>"$WORK/down_curl" ||
    { echo "curl download of the block blob failed"; exit 1; }
  delete_blob "$blob"; delete_blob "bench/curl-$r"
done

up_bk=$(rate "$(median <"$WORK/up_bk")"); down_bk=$(rate "$(median <"$WORK/down_bk")")
up_curl=$(rate "$(median <"$WORK/up_curl")"); down_curl=$(rate "$(median <"$WORK/down_curl")")
down_put=$(rate "$(median <"$WORK/down_curl_put")")
echo "GitHub cache transfers: $MB MiB against Azurite on 127.0.0.1, median of $RUNS" \
  "($(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg))"
printf '%-10s %14s %12s %8s   %s\n' "" "bkcache MiB/s" "curl MiB/s" "ratio" "curl did"
printf '%-10s %14s %12s %8s   %s\n' upload "$up_bk" "$up_curl" "$(ratio "$up_bk" "$up_curl")" \
  "one Put Blob of the same file"
printf '%-10s %14s %12s %8s   %s\n' download "$down_bk" "$down_curl" \
  "$(ratio "$down_bk" "$down_curl")" "one GET of the same blob"
printf '%-10s %14s %12s %8s   %s\n' "download*" "$down_bk" "$down_put" \
  "$(ratio "$down_bk" "$down_put")" "one GET of its own Put Blob blob (see below)"
echo "* Azurite keeps a blob committed from blocks as a chain of extents and serves it"
echo "  several times slower than a blob written by one Put Blob; real Azure does not."
