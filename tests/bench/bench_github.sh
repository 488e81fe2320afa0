#!/bin/bash
# bench_github.sh - GitHub cache transfer throughput (make bench): bkcache's blob layer
# (parallel Put Block / ranged GET through the github provider and the emulator) against
# Azurite on loopback, beside a single-stream curl of the same file to the same Azurite
# (one Put Blob, one GET). The signed URLs point straight at Azurite (no proxy).
#
# BENCH_GH_MB sets the file size (default 256). Prints a table; the numbers in
# docs/benchmarks.md ("GitHub cache transfers") are copied from it by hand.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/github
WORK=$(mktemp -d /tmp/bk-bench-github.XXXXXX)
PIDS=()
MB=${BENCH_GH_MB:-256}
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
rate() { awk -v mb="$MB" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", mb / (b - a) }'; }

t0=$(now); "$G" -i bench save bench-key "$WORK/file" >/dev/null 2>&1 || { echo "bkcache upload failed"; exit 1; }
t1=$(now); "$G" -i bench restore "$WORK/out" bench-key >/dev/null 2>&1 || { echo "bkcache download failed"; exit 1; }
t2=$(now)
cmp -s "$WORK/file" "$WORK/out" || { echo "bkcache download differs"; exit 1; }
rm -f "$WORK/out"

put=$(curl -fsS "$EMU/_emu/sas?blob=bench/curl&sp=cw")
get=$(curl -fsS "$EMU/_emu/sas?blob=bench/curl&sp=r")
t3=$(now)
curl -fsS -o /dev/null -X PUT -T "$WORK/file" -H "x-ms-blob-type: BlockBlob" \
  -H "x-ms-version: 2024-11-04" -H "Expect:" "$put" || { echo "curl upload failed"; exit 1; }
t4=$(now)
curl -fsS -o "$WORK/out" "$get" || { echo "curl download failed"; exit 1; }
t5=$(now)
# the blob bkcache uploaded (Put Block + Put Block List), read by curl in one stream
blob=$(curl -fsS "$EMU/_emu/entries" | sed -n 's/.*"key":"bench-key".*"blob":"\([^"]*\)".*/\1/p')
same=$(curl -fsS -G "$EMU/_emu/sas" --data-urlencode "blob=$blob" --data-urlencode "sp=r")
t6=$(now)
curl -fsS -o "$WORK/out" "$same" || { echo "curl download of the block blob failed"; exit 1; }
t7=$(now)

up_bk=$(rate "$t0" "$t1"); down_bk=$(rate "$t1" "$t2")
up_curl=$(rate "$t3" "$t4"); down_curl=$(rate "$t4" "$t5"); down_same=$(rate "$t6" "$t7")
echo "GitHub cache transfers: $MB MiB against Azurite on 127.0.0.1 ($(nproc) cores," \
  "load average $(cut -d' ' -f1 /proc/loadavg))"
printf '%-10s %16s %16s %8s\n' "" "bkcache MiB/s" "curl MiB/s" "ratio"
printf '%-10s %16s %16s %8s\n' upload "$up_bk" "$up_curl" "$(awk -v a="$up_bk" -v b="$up_curl" 'BEGIN{printf "%.2fx", a/b}')"
printf '%-10s %16s %16s %8s\n' download "$down_bk" "$down_curl" "$(awk -v a="$down_bk" -v b="$down_curl" 'BEGIN{printf "%.2fx", a/b}')"
printf '%-10s %16s %16s %8s   (curl reads the block blob bkcache wrote)\n' "download*" "$down_bk" \
  "$down_same" "$(awk -v a="$down_bk" -v b="$down_same" 'BEGIN{printf "%.2fx", a/b}')"
