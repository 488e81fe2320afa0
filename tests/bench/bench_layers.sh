#!/bin/sh
# bench_layers.sh - the layer cache (--layers) on a local store, the two targets of issue 17:
#   1. after a one-line change, save uploads at most the changed layers plus the config,
#      the manifest list and the index: bytes uploaded against the whole export's size;
#   2. restoring a cache of 200 blobs is no slower than restoring one archive of the same
#      bytes (the same files as one cache mount, --dir mode): median wall time of
#      BENCH_RUNS runs each, and the ratio layers / archive (target <= 1.0).
# The layers are pseudo-random (compressed layers do not compress again), 200 of
# BENCH_LAYER_KIB KiB each (default 2048: 400 MiB; BENCH_SCALE multiplies it).
# Environment: BKCACHE (default ./bkcache), BENCH_SCALE (default 1), BENCH_RUNS (default 3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bk=$(cd "$(dirname "${BKCACHE:-./bkcache}")" && pwd)/$(basename "${BKCACHE:-./bkcache}")
runs=${BENCH_RUNS:-3}
kib=$(awk "BEGIN { printf \"%d\", ${BENCH_LAYER_KIB:-2048} * ${BENCH_SCALE:-1} }")
work=$(mktemp -d /var/tmp/bkcache-bench-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
gen=$here/../layers/make_oci_cache.py
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

# the layer cache's Dockerfile has no mount (restore moves only the layers); the
# archive's has one mount, "blobs", that holds the same files
printf 'FROM scratch AS app\nRUN true\n' >"$work/Dockerfile.layers"
printf 'FROM scratch AS app\nRUN --mount=type=cache,id=blobs,target=/b true\n' >"$work/Dockerfile"
L="-f $work/Dockerfile.layers --provider local --store $work/store --dir $work/mounts --layers"
mkdir -p "$work/mounts"

# 1. a one-line change: upload only what changed
python3 "$gen" "$work/l1/to" 198 v1 $((kib * 1024))
"$bk" save $L --layers-dir "$work/l1" >/dev/null 2>&1
python3 "$gen" "$work/l2/to" 198 v2 $((kib * 1024))
"$bk" save $L --layers-dir "$work/l2" --json 2>/dev/null >"$work/s2.json"
total=$(du -sb "$work/l2/to/blobs" | cut -f1)
up=$(python3 -c "import json; d=json.load(open('$work/s2.json'))['layers']; print(d['blobs_uploaded'], d['bytes_uploaded'], d['blobs_skipped'])")
set -- $up
echo "layers: one-line change: $1 blobs uploaded, $2 of $total bytes ($(awk "BEGIN { printf \"%.2f%%\", 100 * $2 / $total }")); $3 blobs already stored"

# 2. restore 200 blobs against one archive of the same bytes
mkdir -p "$work/mounts/blobs"
cp "$work/l2/to/blobs/sha256/"* "$work/mounts/blobs/"
"$bk" save -f "$work/Dockerfile" --provider local --store "$work/store" --dir "$work/mounts" >/dev/null 2>&1
for i in $(seq "$runs"); do
  rm -rf "$work/r" && sync
  t0=$(now)
  "$bk" restore $L --layers-dir "$work/r" >/dev/null 2>&1
  t1=$(now)
  echo "$t1 - $t0" | bc >>"$work/t.layers"
  rm -rf "$work/rm" && sync
  t0=$(now)
  "$bk" restore -f "$work/Dockerfile" --provider local --store "$work/store" --dir "$work/rm" \
    >/dev/null 2>&1
  t1=$(now)
  echo "$t1 - $t0" | bc >>"$work/t.archive"
done
n=$(ls "$work/r/from/app/blobs/sha256" | wc -l)
tl=$(median <"$work/t.layers")
ta=$(median <"$work/t.archive")
echo "layers: restore of $n blobs ($total bytes): $tl s; one archive of the same files: $ta s; ratio $(awk "BEGIN { printf \"%.2f\", $tl / $ta }")"
