#!/bin/sh
# bench_builder.sh - BuildKit transfers side by side, on the same dockerd and
# the same data (issue 4):
#
#   bkcache       `bkcache restore` / `bkcache save` through the builder
#                 (local store; restore after `docker builder prune -af`);
#   cp method     what existing tools do: the uncompressed directory as the
#                 build context, `cp -p -R` into the cache mount in a busybox
#                 image (built here from Debian's busybox-static, FROM
#                 scratch); extract by copying the mount into an image and
#                 `docker cp`;
#   bare          `zstd -d -T0 | tar -x` and `tar -c | zstd -T0 -3` on the
#                 host, no builder at all (the floor).
#
# Workloads: W1, 100k small files (~1 GiB, tests/bench/gen_archive_data.py);
# W3, an empty cache mount (save: the extract build finds it empty; restore:
# nothing was saved, so a store miss) and a one-file cache (the fixed cost
# of a real transfer). Prints wall seconds (median of BENCH_RUNS, default 1)
# and the ratios against the targets: bkcache >= 5x faster than the cp
# method and <= 1.3x bare, fixed overhead < 1.5 s.
#
# Only the command is timed: deleting the previous run's output, pruning
# the builder and reading the source tree into the page cache are not. Every
# W1 restore starts after a sync and a wait of BENCH_SETTLE seconds (default
# 61) once the previous 100k files are deleted: ext4 skips inodes freed in
# the last minute or more when it allocates new ones, which makes creating
# 100k files 5-8x slower, by an amount that varies from run to run (see
# bench_archive.sh); a CI runner restores onto a disk where nothing was just
# deleted.
#
# Environment: BKCACHE (default ./bkcache), BENCH_SCALE (default 1),
# BENCH_RUNS, BENCH_DIR (kept when given), DOCKER (default /usr/bin/docker),
# BENCH_SETTLE. `make bench` runs it on Docker 20.10 and on Docker 26 +
# buildx (mk/bench.mk); DOCKER_HOST and DOCKER_CONFIG pick the daemon and
# the buildx plugin as for any docker client.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BK=${BKCACHE:-./bkcache}
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-1}

if ! "$DOCKER" version >/dev/null 2>&1; then
  echo "bench_builder: SKIP (no docker daemon answers $DOCKER)"
  exit 0
fi
[ -x "$(dirname "$BK")/bkcache-helper" ] || { echo "bench_builder: SKIP (no bkcache-helper)"; exit 0; }
[ -f "$here/gen_archive_data.py" ] || { echo "bench_builder: SKIP (no tests/bench/gen_archive_data.py)"; exit 0; }
[ -x /bin/busybox ] || { echo "bench_builder: SKIP (no /bin/busybox: apt-get install busybox-static)"; exit 0; }
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR; mkdir -p "$work"; keep=1
else
  work=$(mktemp -d /var/tmp/bkcache-bench-builder.XXXXXX); keep=0
fi
cleanup() {
  "$DOCKER" rmi -f bkcache-bench-busybox bkcache-bench-extract >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

# ---- data and the Dockerfile bkcache plans from (it is never built) ----
mkdir -p "$work/ctx" "$work/src"
cat >"$work/ctx/Dockerfile" <<'DF'
FROM scratch
RUN --mount=type=cache,id=bench-w1,target=/w1 \
    --mount=type=cache,id=bench-w3,target=/w3 \
    --mount=type=cache,id=bench-one,target=/one \
    ["/bin/true"]
DF
name_of() { "$BK" mounts -f "$work/ctx/Dockerfile" | awk -v id="/$1" '$NF == id { print $3 }'; }
W1=$(name_of bench-w1); W3=$(name_of bench-w3); ONE=$(name_of bench-one)
if [ ! -d "$work/src/$W1" ]; then
  echo "generating W1 (scale $scale) ..." >&2
  python3 "$here/gen_archive_data.py" w1 "$work/src/$W1" "$scale"
fi
mkdir -p "$work/src/$W3" "$work/src/$ONE"
echo one >"$work/src/$ONE/file"
files=$(find "$work/src/$W1" -type f | wc -l)
bytes=$(du -sb "$work/src/$W1" | cut -f1)

bkc() { # bkcache CMD with the bench's Dockerfile, store $1, fresh state
  cmd=$1; store=$2; shift 2
  rm -f "$work/state.json"
  "$BK" "$cmd" -f "$work/ctx/Dockerfile" --provider local --store "$store" \
    --state "$work/state.json" "$@" >"$work/bk.out" 2>"$work/bk.err" ||
    { cat "$work/bk.err" >&2; echo "bench_builder: bkcache $cmd failed" >&2; exit 1; }
}
prune() { "$DOCKER" builder prune -af >/dev/null; }
settle() { sync; sleep "${BENCH_SETTLE:-61}"; }
warm() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; sync; }
now() { date +%s.%N; }
# time_it PREP CMD: median wall seconds of $runs runs of CMD, PREP untimed before each
time_it() {
  i=0; : >"$work/times"
  while [ "$i" -lt "$runs" ]; do
    eval "$1"
    t0=$(now); eval "$2"; t1=$(now)
    echo "$t1 $t0" | awk '{ printf "%.2f\n", $1 - $2 }' >>"$work/times"
    i=$((i + 1))
  done
  sort -n "$work/times" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

echo "seeding the store from the generated trees (directory mode) ..." >&2
bkc save "$work/store0" --dir "$work/src"

# ---- bkcache through the builder ----
bk_restore() { bkc restore "$work/store0" --docker "$DOCKER" --mount "$1"; }
bk_save() { bkc save "$work/store1" --docker "$DOCKER" --mount "$1"; }
r_bk=$(time_it "prune; settle" "bk_restore $W1")
grep -q "$W1: restored" "$work/bk.out" || { cat "$work/bk.out" >&2; exit 1; }
s_bk=$(time_it 'rm -rf "$work/store1"; sync' "bk_save $W1")
grep -q "$W1: saved" "$work/bk.out" || { cat "$work/bk.out" >&2; exit 1; }
r_one=$(time_it prune "bk_restore $ONE")
s_one=$(time_it 'rm -rf "$work/store1"' "bk_save $ONE")
r_w3=$(time_it prune "bk_restore $W3")
s_w3=$(time_it 'rm -rf "$work/store1"' "bk_save $W3")
grep -q "$W3: empty" "$work/bk.out" || { cat "$work/bk.out" >&2; exit 1; }

# ---- the cp method ----
mkdir -p "$work/bb"
cp /bin/busybox "$work/bb/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$work/bb/Dockerfile"
"$DOCKER" build --network=none -q -t bkcache-bench-busybox "$work/bb" >/dev/null
cat >"$work/cp-in.Dockerfile" <<'DF'
FROM bkcache-bench-busybox
ARG NONCE
RUN --mount=type=bind,target=/src --mount=type=cache,id=bench-cp,target=/cache \
    ["/bin/busybox", "cp", "-p", "-R", "/src/.", "/cache/"]
DF
cat >"$work/cp-out.Dockerfile" <<'DF'
FROM bkcache-bench-busybox
ARG NONCE
RUN --mount=type=cache,id=bench-cp,target=/cache ["/bin/busybox", "cp", "-p", "-R", "/cache/.", "/out/"]
DF
cp_restore() {
  "$DOCKER" build --network=none -q -f "$work/cp-in.Dockerfile" --build-arg "NONCE=$(now)" \
    "$work/src/$1" >/dev/null
}
cp_save() {
  "$DOCKER" build --network=none -q -f "$work/cp-out.Dockerfile" --build-arg "NONCE=$(now)" \
    -t bkcache-bench-extract "$work/bb" >/dev/null
  id=$("$DOCKER" create bkcache-bench-extract /bin/busybox true)
  "$DOCKER" cp "$id:/out" "$work/cp-out"
  "$DOCKER" rm "$id" >/dev/null
}
r_cp=$(time_it "prune; settle" "cp_restore $W1")
s_cp=$(time_it 'rm -rf "$work/cp-out"; settle' "cp_save $W1")
[ "$(find "$work/cp-out" -type f | wc -l)" -eq "$files" ] || { echo "cp method lost files" >&2; exit 1; }
r_cp1=$(time_it prune "cp_restore $ONE")
s_cp1=$(time_it 'rm -rf "$work/cp-out"' "cp_save $ONE")

# ---- bare tar | zstd on the host ----
tar -cf - -C "$work/src/$W1" . | zstd -q -T0 -3 >"$work/w1.tar.zst"
bare_restore() { zstd -q -d -T0 <"$work/w1.tar.zst" | tar -xf - -C "$work/bare"; }
bare_save() { tar -cf - -C "$work/src/$W1" . | zstd -q -T0 -3 >"$work/w1-out.tar.zst"; }
r_bare=$(time_it 'rm -rf "$work/bare"; settle; mkdir "$work/bare"' bare_restore)
s_bare=$(time_it 'rm -f "$work/w1-out.tar.zst"; warm "$work/src/$W1"' bare_save)

ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "-" }'; }
echo
echo "BuildKit transfers ($(nproc) CPUs, docker $("$DOCKER" version --format '{{.Server.Version}}'), median of $runs)"
"$BK" plan -f "$work/ctx/Dockerfile" --provider local --store "$work/store0" \
  --state "$work/state.json" --docker "$DOCKER" 2>/dev/null | sed -n 's/^caches: */bkcache: /p'
echo "W1: $files files, $((bytes / 1048576)) MiB; seconds"
printf '%-10s %-22s %9s %9s\n' workload method restore save
printf '%-10s %-22s %9s %9s\n' W1 bkcache "$r_bk" "$s_bk"
printf '%-10s %-22s %9s %9s\n' W1 "cp method (busybox)" "$r_cp" "$s_cp"
printf '%-10s %-22s %9s %9s\n' W1 "bare tar | zstd" "$r_bare" "$s_bare"
printf '%-10s %-22s %9s %9s\n' W3-empty bkcache "$r_w3 (miss)" "$s_w3"
printf '%-10s %-22s %9s %9s\n' one-file bkcache "$r_one" "$s_one"
printf '%-10s %-22s %9s %9s\n' one-file "cp method (busybox)" "$r_cp1" "$s_cp1"
echo
echo "W1 cp method / bkcache:  restore $(ratio "$r_cp" "$r_bk")x, save $(ratio "$s_cp" "$s_bk")x (target >= 5)"
echo "W1 bkcache / bare:       restore $(ratio "$r_bk" "$r_bare")x, save $(ratio "$s_bk" "$s_bare")x (target <= 1.3)"
echo "fixed overhead (one-file transfer): restore $r_one s, save $s_one s; empty save $s_w3 s (target < 1.5)"
