#!/bin/sh
# bench_keys.sh - parse + plan + keys of a generated 5,000-line Dockerfile.
#
# Runs build/bench/bench_keys (built by `make bench`, see mk/plan.mk) on the
# output of gen_dockerfile.sh and prints its median over RUNS rounds. The
# target is a median under 20 ms; the script fails above 20 ms so a slow
# change is noticed (timings belong here, not in unit tests).
set -eu
here=$(dirname "$0")
BENCH=${BENCH_KEYS:-build/bench/bench_keys}
RUNS=${RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$here/gen_dockerfile.sh" 5000 > "$tmp/Dockerfile"
out=$("$BENCH" "$tmp/Dockerfile" "$RUNS")
echo "bench_keys: $out"
median=$(printf '%s\n' "$out" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
awk -v m="$median" 'BEGIN { if (m >= 20) { print "bench_keys: median " m " ms is over the 20 ms target"; exit 1 } }'
