#!/bin/sh
# bench_archive.sh - `bkcache pack`/`unpack` against `tar | zstd -T0 -3` and
# `zstd -d | tar -x` on the same generated data (W1: 100k small files ~1 GiB;
# W2: 4 large files ~2 GiB). Prints the median wall time of 3 runs, the peak
# RSS (/usr/bin/time), and the ratio bkcache / bare pipeline. Each pack
# reads a tree already in the page cache; each unpack writes into a new,
# empty file system (freshfs.sh says why).
#
# Environment: BKCACHE (the binary; default ./bkcache), BENCH_DIR (work
# directory; default a new one under /var/tmp, removed at the end),
# BENCH_SCALE (default 1: the full sizes), BENCH_RUNS (default 3),
# BENCH_WORKLOADS (default "w1 w2").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/freshfs.sh"
bk=${BKCACHE:-./bkcache}
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
workloads=${BENCH_WORKLOADS:-w1 w2}
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR; mkdir -p "$work"; keep=1
else
  work=$(mktemp -d /var/tmp/bkcache-bench.XXXXXX); keep=0
fi
cleanup() {
  for d in "$work"/out-*; do fresh_fs_done "$d"; done
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

for w in $workloads; do
  [ -d "$work/$w" ] || { echo "generating $w ..." >&2; python3 "$here/gen_archive_data.py" "$w" "$work/$w" "$scale"; }
done

# warm DIR (a command for pair's PREP steps): read every file once, not
# timed. A save on CI follows the build that wrote the cache, so its files
# are in the page cache.
warm() { echo "find '$1' -type f -print0 | xargs -0 cat >/dev/null"; }

# pair PREP_A CMD_A PREP_B CMD_B: $runs runs of A and B, alternating which
# goes first (A B, B A, A B, ...) so that neither gains from the other's
# leftovers or from a drift over the runs; each after its PREP and a sync
# (not timed) so that none pays for the writeback of the previous run's
# output. Prints, for A then B, the median wall seconds, the max KiB and the
# median CPU seconds (user + sys, children included).
one() { # PREP CMD TIMES_FILE
  sh -c "$1"; sync
  /usr/bin/time -f '%e %M %U %S' -o "$work/t1" sh -c "$2"; cat "$work/t1" >> "$3"
}
pair() {
  : > "$work/ta"; : > "$work/tb"; i=0
  while [ $i -lt "$runs" ]; do
    if [ $((i % 2)) = 0 ]; then
      one "$1" "$2" "$work/ta"; one "$3" "$4" "$work/tb"
    else
      one "$3" "$4" "$work/tb"; one "$1" "$2" "$work/ta"
    fi
    i=$((i + 1))
  done
  for f in "$work/ta" "$work/tb"; do
    sort -n "$f" | awk '{a[NR]=$1; if ($2>m) m=$2} END{printf "%s %d ", a[int((NR+1)/2)], m}'
    awk '{print $3 + $4}' "$f" | sort -n | awk '{a[NR]=$1} END{printf "%.2f ", a[int((NR+1)/2)]}'
  done
  echo
}

row() { # WORK OP BK_S BK_KIB BK_CPU PIPE_S PIPE_KIB PIPE_CPU
  printf '%-4s %-7s %9s %9s %6.2f %8s %8s %6.2f %7d %7d\n' "$1" "$2" "$3" "$6" \
    "$(echo "$3 $6" | awk '{print ($2 > 0 ? $1 / $2 : 0)}')" "$5" "$8" \
    "$(echo "$5 $8" | awk '{print ($2 > 0 ? $1 / $2 : 0)}')" $(($4 / 1024)) $(($7 / 1024))
}

echo "wall: median seconds; cpu: median user+sys seconds; rss: peak MiB (max of the runs)"
printf '%-4s %-7s %9s %9s %6s %8s %8s %6s %7s %7s\n' work op bk_wall pipe_wall ratio bk_cpu \
  pipe_cpu ratio bk_rss pipe_rss
for w in $workloads; do
  src=$work/$w; a=$work/$w.bk.tzst; b=$work/$w.tar.zst; out=$work/out-$w
  row $w pack $(pair "rm -f $a; $(warm $src)" "$bk pack -q $src $a" \
                     "rm -f $b; $(warm $src)" "tar -cf - -C $src . | zstd -q -T0 -3 > $b")
  # each unpack into a new, empty file system (tests/bench/freshfs.sh)
  ff=". '$here/freshfs.sh'; fresh_fs '$out'"
  row $w unpack $(pair "$ff" "$bk unpack -q $a $out/t" \
                       "$ff; mkdir $out/t" "zstd -q -d -T0 < $b | tar -xf - -C $out/t")
  printf '%-4s sizes: bkcache %s bytes, tar+zstd %s bytes\n' $w "$(stat -c %s $a)" "$(stat -c %s $b)"
  fresh_fs_done "$out"; rm -rf "$out"
done
