#!/bin/sh
# bench_archive.sh - `bkcache pack`/`unpack` against `tar | zstd -T0 -3` and
# `zstd -d | tar -x` on the same generated data (W1: 100k small files ~1 GiB;
# W2: 4 large files ~2 GiB). Prints the median wall time of 3 runs, the peak
# RSS (/usr/bin/time), and the ratio bkcache / bare pipeline.
#
# Environment: BKCACHE (the binary; default ./bkcache), BENCH_DIR (work
# directory; default a new one under /var/tmp, removed at the end),
# BENCH_SCALE (default 1: the full sizes), BENCH_RUNS (default 3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bk=${BKCACHE:-./bkcache}
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR; mkdir -p "$work"; keep=1
else
  work=$(mktemp -d /var/tmp/bkcache-bench.XXXXXX); keep=0
fi
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM

for w in w1 w2; do
  [ -d "$work/$w" ] || { echo "generating $w ..." >&2; python3 "$here/gen_archive_data.py" "$w" "$work/$w" "$scale"; }
done

# run LABEL PREP CMD: median seconds and max KiB of $runs runs of CMD (after PREP).
measure() {
  prep=$1; cmd=$2; i=0; : > "$work/times"
  while [ $i -lt "$runs" ]; do
    sh -c "$prep"
    /usr/bin/time -f '%e %M' -o "$work/t1" sh -c "$cmd"
    cat "$work/t1" >> "$work/times"; i=$((i + 1))
  done
  sec=$(sort -n "$work/times" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  kib=$(awk '$2>m{m=$2} END{print m}' "$work/times")
  echo "$sec $kib"
}

printf '%-4s %-7s %12s %12s %10s %10s %7s\n' work op bkcache_s pipeline_s bk_MiB pipe_MiB ratio
for w in w1 w2; do
  src=$work/$w; a=$work/$w.bk.tzst; b=$work/$w.tar.zst; out=$work/out
  set -- $(measure "rm -f $a" "$bk pack -q $src $a")
  bks=$1; bkm=$2
  set -- $(measure "rm -f $b" "tar -cf - -C $src . | zstd -q -T0 -3 > $b")
  ps=$1; pm=$2
  printf '%-4s %-7s %12s %12s %10d %10d %7.2f\n' $w pack $bks $ps $((bkm / 1024)) $((pm / 1024)) \
    "$(echo "$bks $ps" | awk '{print ($2 > 0 ? $1 / $2 : 0)}')"
  set -- $(measure "rm -rf $out" "$bk unpack -q $a $out")
  bks=$1; bkm=$2
  set -- $(measure "rm -rf $out; mkdir $out" "zstd -q -d -T0 < $b | tar -xf - -C $out")
  ps=$1; pm=$2
  printf '%-4s %-7s %12s %12s %10d %10d %7.2f\n' $w unpack $bks $ps $((bkm / 1024)) $((pm / 1024)) \
    "$(echo "$bks $ps" | awk '{print ($2 > 0 ? $1 / $2 : 0)}')"
  printf '%-4s sizes: bkcache %s bytes, tar+zstd %s bytes\n' $w "$(stat -c %s $a)" "$(stat -c %s $b)"
  rm -rf "$out"
done
