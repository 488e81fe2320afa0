#!/bin/sh
# bench_store.sh - bkcache save and restore in directory mode on a local
# store, against the bare pipelines `tar -cf - | zstd -T0 -3` (save) and
# `zstd -d | tar -xf -` (restore), on the same generated trees (W1: many
# small files, W2: a few large files; tests/bench/gen_archive_data.py).
# Prints, per workload and direction, the median wall time of BENCH_RUNS
# runs, bkcache's peak RSS, and the ratio bkcache / pipeline (target <= 1.0).
# Every timed step starts after a sync (not timed), so no step pays for the
# writeback of the previous one's dirty pages; every save after reading the
# tree once (not timed: on CI the build that wrote the cache has just done
# so), every restore into a new, empty file system (freshfs.sh says why),
# and the two sides take turns going first. bkcache's save includes the
# local store's fsync; the pipeline's output is not fsync'ed.
#
# Environment: BKCACHE (binary, default ./bkcache), BENCH_SCALE (default 1:
# ~1 GiB and ~2 GiB; 0.05 for a quick run), BENCH_RUNS (default 3),
# BENCH_WORKLOADS (default "w1 w2"), BENCH_DIR (work directory, kept),
# BENCH_FRESH_FS and BENCH_SETTLE (freshfs.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/freshfs.sh"
bk=${BKCACHE:-./bkcache}
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
df=$here/../e2e/Dockerfile.dirmode
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR; mkdir -p "$work"; keep=1
else
  work=$(mktemp -d /var/tmp/bkcache-bench-store.XXXXXX); keep=0
fi
trap 'fresh_fs_done "$work/fs"; [ "$keep" = 1 ] || rm -rf "$work"' EXIT INT TERM
[ -f "$here/gen_archive_data.py" ] || { echo "bench_store: no gen_archive_data.py, skipped"; exit 0; }
name=$("$bk" plan -f "$df" --dir "$work/x" --store "$work/none" 2>/dev/null |
  grep -E '^[A-Za-z0-9._-]+$' | head -1)
[ -n "$name" ] || { echo "bench_store: bkcache plan failed" >&2; exit 1; }

now() { date +%s.%N; }
warm() { find "$src" -type f -print0 | xargs -0 cat >/dev/null; } # the tree in the page cache
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# timed CMD...: wall seconds on stdout, peak RSS (KiB) in $work/rss
timed() {
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' 
}

printf '%-4s %-8s %12s %12s %8s %10s\n' load step bkcache pipeline ratio "peak MiB"
for w in ${BENCH_WORKLOADS:-w1 w2}; do
  src=$work/src-$w
  [ -d "$src/$name" ] || { mkdir -p "$src"; python3 "$here/gen_archive_data.py" "$w" "$src/$name" "$scale"; }
  : >"$work/save.bk"; : >"$work/save.pipe"; : >"$work/rest.bk"; : >"$work/rest.pipe"
  rss_save=0; rss_rest=0
  save_bk() {
    rm -rf "$work/store" "$work/state"; warm; sync
    timed "$bk" save -f "$df" --provider local --store "$work/store" --dir "$src" \
      --mount "$name" --state "$work/state" --fail-on-error >>"$work/save.bk"
    r=$(cat "$work/rss"); if [ "$r" -gt "$rss_save" ]; then rss_save=$r; fi
  }
  save_pipe() {
    rm -f "$work/pipe.tar.zst"; warm; sync
    timed sh -c "tar -C '$src/$name' -cf - . | zstd -q -T0 -3 -o '$work/pipe.tar.zst'" \
      >>"$work/save.pipe"
  }
  restore_bk() {
    fresh_fs "$work/fs"
    timed "$bk" restore -f "$df" --provider local --store "$work/store" --dir "$work/fs/dst" \
      --mount "$name" --state "$work/state" --fail-on-cache-miss >>"$work/rest.bk"
    r=$(cat "$work/rss"); if [ "$r" -gt "$rss_rest" ]; then rss_rest=$r; fi
  }
  restore_pipe() {
    fresh_fs "$work/fs"; mkdir -p "$work/fs/pdst"
    timed sh -c "zstd -q -d -c '$work/pipe.tar.zst' | tar -C '$work/fs/pdst' -xf -" \
      >>"$work/rest.pipe"
  }
  i=0
  while [ $i -lt "$runs" ]; do # alternate which side goes first
    if [ $((i % 2)) = 0 ]; then
      save_bk; save_pipe; restore_bk; restore_pipe
    else
      save_pipe; save_bk; restore_pipe; restore_bk
    fi
    i=$((i + 1))
  done
  fresh_fs_done "$work/fs"; rm -rf "$work/fs"
  for step in save rest; do
    b=$(median <"$work/$step.bk"); p=$(median <"$work/$step.pipe")
    rss=$([ $step = save ] && echo $rss_save || echo $rss_rest)
    printf '%-4s %-8s %11.2fs %11.2fs %7.2fx %10.1f\n' "$w" \
      "$([ $step = save ] && echo save || echo restore)" "$b" "$p" \
      "$(awk -v b="$b" -v p="$p" 'BEGIN { print (p > 0 ? b / p : 0) }')" \
      "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')"
  done
done
