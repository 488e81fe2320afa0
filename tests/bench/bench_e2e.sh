#!/bin/bash
# bench_e2e.sh - end to end, fresh runner to warm cache mounts and back (issue 21):
# what a CI job waits for, through the GitHub cache service (the test emulator and
# Azurite on 127.0.0.1) and a BuildKit builder.
#
#   peer      the workflow users run today: @actions/cache restoreCache (download,
#             zstd -d | tar -x) + the cp method inject (the tree as the build context,
#             `cp -p -R` into the cache mount, as buildkit-cache-dance does); and the
#             cp method extract (copy the mount into an image, `docker cp` it out) +
#             @actions/cache saveCache (tar | zstd, upload);
#   bkcache   `bkcache restore` and `bkcache save --provider github`, end to end;
#   floor     no builder at all: one curl GET (of the blob bkcache restores) piped into
#             `zstd -d | tar -x`; and
#             `tar | zstd -T0 -3` to a file + one curl Put Blob.
#
# Workloads (tests/bench/gen_archive_data.py): w1, 100k files of 1-20 KiB (~1 GiB);
# w2, 4 files of 512 MiB (2 GiB). Everything the runs write lives on one tmpfs: the
# data, the temporary files, and the data-root and exec-root of a dockerd started here
# on its own socket (--bridge=none) and stopped at the end; Azurite keeps blobs in
# memory, and every round starts on a fresh one with the seeds put back (fresh_azurite).
# So disk noise drops out, and what is measured is CPU, memory bandwidth, loopback and
# the software. Each side's archive size is printed with the data.
#
# Two Docker stacks (BENCH_DOCKER, default "20 26": each in turn, each with its own
# daemon, data and table):
#   20  Debian 12's docker.io 20.10 (overlay2); every build is `DOCKER_BUILDKIT=1
#       docker build`, bkcache runs with --driver docker;
#   26  Docker 26.1.5 + buildx 0.13 (scripts/docker26.sh: installed into
#       /opt/bkcache-docker26 if needed, its containerd and dockerd started with their
#       state, data-root and exec-root under the tmpfs, containerd image store unless
#       DOCKER26_STORE=overlay2); every build, the peer's included, is `docker buildx
#       build` on the default builder (docker driver), bkcache runs with --driver buildx.
#
# Each round runs every method once (peer, bkcache, floor, in an order that rotates
# from round to round); a restore starts after `docker builder prune -af` (a fresh
# runner), a save right after that method's own restore filled the cache mount (the
# end of a CI job). Only the commands are timed: pruning, deleting the previous
# output and deleting uploaded blobs are not. Prints medians over the rounds and,
# per phase, where the time went; every single time goes to $BENCH_OUT (a TSV) when set.
#
# Environment: BKCACHE (default ./bkcache), BENCH_DOCKER (default "20 26"), BENCH_RUNS
# (rounds, default 5),
# BENCH_METHODS (default "peer bk floor": which methods, in the first round's order),
# BENCH_SCALE (data scale, default 1; 0.05 for a quick check), BENCH_WORKLOADS
# (default "w1 w2"), BENCH_TMPFS_SIZE (default 16g), BENCH_OUT (TSV of every time),
# BENCH_LOGS (a directory that gets bkcache's -v output of every restore and save),
# BENCH_SAVE_CHANGE (default 0: the share of the cache's files, e.g. 0.02, that a build
# rewrites, untimed, between each method's restore and its save; with BENCH_BK_DELTA=auto
# bkcache's save then uploads what changed, the peer's the whole cache),
# BENCH_BK_DELTA (bkcache save's --delta, default off: one whole archive per save, the
# upload this benchmark has always measured and the peer makes; auto stores layers, and
# a save right after its restore then uploads almost nothing).
# With several stacks, BENCH_OUT and BENCH_LOGS get a -docker20 / -docker26 suffix.
# Needs root (tmpfs, dockerd), /usr/sbin/dockerd and /usr/bin/docker (docker.io) for 20,
# scripts/docker26.sh's stack for 26, busybox-static, zstd, node. Run it under the
# machine's locks:
#   flock /tmp/bkcache-bench.lock flock /tmp/bkcache-docker.lock bash tests/bench/bench_e2e.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/github
BK=${BKCACHE:-$ROOT/bkcache}
RUNS=${BENCH_RUNS:-5}
SCALE=${BENCH_SCALE:-1}
WORKLOADS=${BENCH_WORKLOADS:-w1 w2}
METHODS=${BENCH_METHODS:-peer bk floor}
STACKS=${BENCH_DOCKER:-20 26}
BK_DELTA=${BENCH_BK_DELTA:-off}
CHANGE=${BENCH_SAVE_CHANGE:-0}

skip() { echo "bench_e2e: SKIP ($*)"; exit 0; }
# Several stacks: run this script once per stack, one after the other.
if [ "$(echo "$STACKS" | wc -w)" -gt 1 ]; then
  st=0
  for s in $STACKS; do
    echo "bench_e2e: == Docker $s"
    BENCH_DOCKER=$s BENCH_OUT=${BENCH_OUT:+${BENCH_OUT%.tsv}-docker$s.tsv} \
      BENCH_LOGS=${BENCH_LOGS:+$BENCH_LOGS-docker$s} bash "$0" || st=1
  done
  exit $st
fi
D26=$ROOT/scripts/docker26.sh
case $STACKS in
20) DOCKER=/usr/bin/docker DOCKERD=/usr/sbin/dockerd BUILD=(build) DRIVER=docker ;;
26) DOCKER=${DOCKER26_PREFIX:-/opt/bkcache-docker26}/usr/bin/docker DOCKERD=${DOCKER%/bin/docker}/sbin/dockerd
    BUILD=(buildx build) DRIVER=buildx ;;
*) echo "bench_e2e: BENCH_DOCKER: 20 or 26 (or both), not '$STACKS'" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || skip "needs root: tmpfs and a dockerd of its own"
if [ "$STACKS" = 26 ]; then
  sh "$D26" install || skip "no Docker 26 stack: scripts/docker26.sh install failed"
fi
[ -x "$DOCKERD" ] && [ -x "$DOCKER" ] || skip "no $DOCKERD or $DOCKER: apt-get install docker.io"
[ -x /bin/busybox ] || skip "no /bin/busybox: apt-get install busybox-static"
command -v zstd >/dev/null && command -v node >/dev/null || skip "needs zstd and node"
[ -x "$BK" ] && [ -x "$(dirname "$BK")/bkcache-helper" ] || skip "no $BK or its helper: make"

B=$(mktemp -d /tmp/bk-e2e.XXXXXX)
WORK=$B/work
PIDS=()
DOCKERD_PID=""
D26_STARTED=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "$D26_STARTED" ]; then DOCKER26_STATE=$B/docker26 sh "$D26" stop 2>/dev/null; fi
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  wait 2>/dev/null
  if [ -n "${BENCH_LOGS:-}" ]; then mkdir -p "$BENCH_LOGS" && cp "$WORK"/bk-*.err "$BENCH_LOGS"/ 2>/dev/null; fi
  if mountpoint -q "$B"; then umount "$B" 2>/dev/null || umount -l "$B"; fi
  rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-16g},mode=0755" tmpfs "$B" || skip "cannot mount a tmpfs"
mkdir -p "$WORK" "$B/tmp"
export TMPDIR=$B/tmp RUNNER_TEMP=$B/tmp

fail() { echo "bench_e2e: $*" >&2; exit 1; }
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }

# ---- a dockerd whose data-root and exec-root are on the tmpfs ----
export DOCKER_BUILDKIT=1
if [ "$STACKS" = 26 ]; then
  # docker26.sh: containerd and dockerd with everything under $B/docker26 (its own
  # socket, data-root, exec-root, containerd root and state); its exports point
  # DOCKER_HOST there and DOCKER_CONFIG at the buildx plugin.
  D26_STARTED=1
  DOCKER26_STATE=$B/docker26 sh "$D26" start >"$WORK/docker26.env" 2>"$WORK/dockerd.log" ||
    { cat "$WORK/dockerd.log" >&2; fail "Docker 26 did not come up"; }
  # shellcheck source=/dev/null
  . "$WORK/docker26.env"
else
  export DOCKER_HOST=unix://$B/docker.sock
  unset DOCKER_CONFIG # the 20.10 client: no buildx plugin of the caller's
  "$DOCKERD" -H "$DOCKER_HOST" --data-root "$B/docker" --exec-root "$B/exec" \
    --pidfile "$B/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for i in $(seq 1 300); do
    "$DOCKER" version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null && [ "$i" -lt 300 ] || { tail -20 "$WORK/dockerd.log"; fail "dockerd did not come up"; }
    sleep 0.2
  done
fi
D() { "$DOCKER" "$@"; }
DB() { "$DOCKER" "${BUILD[@]}" "$@"; } # a build: docker build, or docker buildx build

# ---- the GitHub cache service: emulator + Azurite, signed URLs straight at Azurite ----
# shellcheck source=tests/github/services.sh
. "$HERE/services.sh"
start_services || fail "cannot start Azurite and the emulator"
curl -fsS -X POST -d '{"proxy":false}' "$EMU/_emu/faults" >/dev/null
export ACTIONS_RESULTS_URL="$EMU/" ACTIONS_CACHE_SERVICE_V2=true
ACTIONS_RUNTIME_TOKEN=$(token) || fail "no token"
export ACTIONS_RUNTIME_TOKEN
sas() { curl -fsS -G "$EMU/_emu/sas" --data-urlencode "blob=$1" --data-urlencode "sp=$2"; }
blob_of() { # KEY: the blob name of the emulator's entry with this key
  curl -fsS "$EMU/_emu/entries" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const e = JSON.parse(s).filter((x) => x.key.toLowerCase() === process.argv[1].toLowerCase());
      if (e.length && e[e.length - 1].blob) console.log(e[e.length - 1].blob);
    });' "$1"
}
blob_bytes() { # BLOB: its size, from a HEAD request
  curl -fsS -I -H "x-ms-version: 2024-11-04" "$(sas "$1" r)" | tr -d '\r' |
    awk 'tolower($1) == "content-length:" { print $2 }'
}
delete_blob() { curl -fsS -o /dev/null -X DELETE -H "x-ms-version: 2024-11-04" "$(sas "$1" d)"; }
drop_entry() { local b; b=$(blob_of "$1") && [ -n "$b" ] && delete_blob "$b"; }

# KEY: the blob name of the archive a restore of this entry unpacks: the entry's own
# blob, or, when the entry is a delta save's index (a zstd frame of JSON), the blob of
# the entry of its one layer (a seed is a single full layer).
seed_archive() {
  local b; b=$(blob_of "$1") || return 1
  local layer
  layer=$(curl -fsS -r 0-65535 "$(sas "$b" r)" 2>/dev/null | zstd -q -d -c 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { const j = JSON.parse(s); if (j.bkcache_index) console.log(j.layers[0].digest.replace("sha256:", "")); } catch (e) {}
    });')
  if [ -n "$layer" ]; then blob_of "bkcache-.blob-sha256-$layer"; else echo "$b"; fi
}

# ---- the busybox image of the cp method, and the Dockerfiles ----
mkdir -p "$WORK/bb" "$WORK/ctx"
cp /bin/busybox "$WORK/bb/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$WORK/bb/Dockerfile"
DB --network=none -q -t bkcache-e2e-busybox "$WORK/bb" >/dev/null || fail "busybox image"
# What bkcache plans from (never built itself): one cache mount per workload.
cat >"$WORK/ctx/Dockerfile" <<'DF'
FROM scratch
RUN --mount=type=cache,id=bench-w1,target=/w1 \
    --mount=type=cache,id=bench-w2,target=/w2 \
    ["/bin/true"]
DF
name_of() { "$BK" mounts -f "$WORK/ctx/Dockerfile" | awk -v id="/bench-$1" '$NF == id { print $3 }'; }
# The cp method on the same cache mount (same id, uid, gid, mode), as buildkit-cache-dance
# writes it: inject binds the context and copies it in; extract copies the mount into the
# image, which `docker cp` then reads out.
cp_dockerfiles() { # WORKLOAD
  cat >"$WORK/cp-in-$1.Dockerfile" <<DF
FROM bkcache-e2e-busybox
ARG NONCE
RUN --mount=type=bind,target=/src --mount=type=cache,id=bench-$1,target=/cache \\
    ["/bin/busybox", "cp", "-p", "-R", "/src/.", "/cache/"]
DF
  # BENCH_SAVE_CHANGE: rewrite every Nth file of the cache mount with new bytes of the
  # same size (untimed), as a build that recompiled part of a project would.
  cat >"$WORK/change-$1.Dockerfile" <<DF
FROM bkcache-e2e-busybox
ARG NONCE
ARG EVERY
RUN --mount=type=cache,id=bench-$1,target=/cache ["/bin/busybox", "sh", "-c", \
    "/bin/busybox find /cache -type f ! -name '.bkcache-*' | /bin/busybox sort | /bin/busybox awk -v n=\$EVERY 'NR % n == 0' | while read -r f; do /bin/busybox dd if=/dev/urandom of=\"\$f\" bs=\$(/bin/busybox stat -c %s \"\$f\") count=1 2>/dev/null; done"]
DF
  cat >"$WORK/cp-out-$1.Dockerfile" <<DF
FROM bkcache-e2e-busybox
ARG NONCE
RUN --mount=type=cache,id=bench-$1,target=/cache ["/bin/busybox", "cp", "-p", "-R", "/cache/.", "/out/"]
DF
}

# ---- timing ----
OUT=${BENCH_OUT:-$WORK/times.tsv}
: >"$OUT"
T0=0
tick() { T0=$(now); }
tock() { # WORKLOAD ROUND METHOD PHASE: record the seconds since tick
  local t; t=$(awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$t" "$(load)" >>"$OUT"
}
prune() { D builder prune -af >/dev/null; D image prune -f >/dev/null; sync; }
change_cache() { # WORKLOAD: BENCH_SAVE_CHANGE's rewrite of the cache mount (untimed)
  [ "$CHANGE" = 0 ] && return 0
  local every; every=$(awk -v c="$CHANGE" 'BEGIN { printf "%d", 1 / c + 0.5 }')
  DB --network=none -q -f "$WORK/change-$1.Dockerfile" --build-arg "NONCE=$(now)" \
    --build-arg "EVERY=$every" "$WORK/bb" >/dev/null || fail "rewriting $CHANGE of the cache"
}
ac_node() { # WORKSPACE interop.mjs ARGS...
  (cd "$1" && shift && GITHUB_WORKSPACE=$PWD node "$HERE/interop.mjs" "$@")
}
bk() { # restore|save WORKLOAD KEY-EXTRA [ARGS...]
  local cmd=$1 w=$2 extra=$3; shift 3
  rm -f "$WORK/state.json"
  [ "$cmd" = save ] && set -- --delta "$BK_DELTA" "$@"
  "$BK" "$cmd" -f "$WORK/ctx/Dockerfile" --provider github --docker "$DOCKER" --driver "$DRIVER" \
    --state "$WORK/state.json" --key-extra "$extra" --mount "$(name_of "$w")" "$@" \
    >"$WORK/bk.out" 2>"$WORK/bk.err" || { cat "$WORK/bk.err" >&2; fail "bkcache $cmd failed"; }
}

# ---- one method's restore + save, one round ----
peer_round() { # WORKLOAD ROUND
  local w=$1 r=$2 ws=$B/peer-ws key
  prune; rm -rf "$ws" "$B/peer-out"; mkdir -p "$ws"
  tick; ac_node "$ws" restore "peer-$w-seed" - data >"$WORK/ac.out" || fail "restoreCache"
  tock "$w" "$r" peer restore-download+untar
  grep -qx "matched=peer-$w-seed" "$WORK/ac.out" || fail "restoreCache missed: $(cat "$WORK/ac.out")"
  tick; DB --network=none -q -f "$WORK/cp-in-$w.Dockerfile" --build-arg "NONCE=$(now)" \
    "$ws/data" >/dev/null || fail "cp method inject"
  tock "$w" "$r" peer restore-inject
  rm -rf "$ws"; change_cache "$w"; sync
  mkdir -p "$B/peer-out"
  tick
  DB --network=none -q -f "$WORK/cp-out-$w.Dockerfile" --build-arg "NONCE=$(now)" \
    -t bkcache-e2e-extract "$WORK/bb" >/dev/null || fail "cp method extract build"
  local id; id=$(D create bkcache-e2e-extract /bin/busybox true) || fail "docker create"
  D cp "$id:/out" "$B/peer-out/data" || fail "docker cp"
  tock "$w" "$r" peer save-extract
  # Free the image's copy before saveCache (untimed): with w2, Azurite's blobs in memory
  # and the tmpfs together once took the machine out of memory (Azurite was killed).
  D rm "$id" >/dev/null; D rmi -f bkcache-e2e-extract >/dev/null
  [ "$(find "$B/peer-out/data" -type f | wc -l)" = "$FILES" ] || fail "the cp method lost files"
  key="peer-$w-save-$r"
  tick; ac_node "$B/peer-out" save "$key" data >"$WORK/ac.out" || fail "saveCache"
  tock "$w" "$r" peer save-tar+upload
  grep -q '^id=[1-9]' "$WORK/ac.out" || fail "saveCache did not save: $(cat "$WORK/ac.out")"
  drop_entry "$key"; D rmi -f bkcache-e2e-extract >/dev/null 2>&1; rm -rf "$B/peer-out"
}

bk_round() { # WORKLOAD ROUND
  local w=$1 r=$2 m=bkcache name key
  name=$(name_of "$w")
  prune
  tick; bk restore "$w" seed -v -v; tock "$w" "$r" "$m" restore
  grep -q "^$name: restored .*exact hit" "$WORK/bk.out" || fail "bkcache restore: $(cat "$WORK/bk.out")"
  cp "$WORK/bk.err" "$WORK/bk-restore-$w-$r-$m.err"
  bk_details "$WORK/bk.err" "$w" "$r" "$m" restore
  change_cache "$w"; sync
  tick; bk save "$w" "save-$r-$m" -v -v; tock "$w" "$r" "$m" save
  key=$(sed -n "s/^$name: saved \\([^ ]*\\) .*/\\1/p" "$WORK/bk.out")
  [ -n "$key" ] || fail "bkcache save: $(cat "$WORK/bk.out")"
  cp "$WORK/bk.err" "$WORK/bk-save-$w-$r-$m.err"
  bk_details "$WORK/bk.err" "$w" "$r" "$m" save
  drop_entry "$key"
}
# Where a bkcache run's time went, from its -v -v log: the build steps' own timings
# (context transfer, the RUN, the export) and the store's (download, upload).
# Recorded as "detail-..." rows, which the restore and save sums leave out.
bk_details() { # LOG WORKLOAD ROUND METHOD restore|save
  awk -F'\t' -v w="$2" -v r="$3" -v m="$4" -v op="$5" '
    function row(ph, v) { if (v != "") printf "%s\t%s\t%s\tdetail-%s-%s\t%s\t-\n", w, r, m, op, ph, v }
    /^#[0-9]+ \[internal\] load build context/ { ctx = $0; sub(/ .*/, "", ctx) }
    /^#[0-9]+ \[bkcache-transfer/ { run = $0; sub(/ .*/, "", run) }
    /^#[0-9]+ exporting to client/ { ex = $0; sub(/ .*/, "", ex) }
    / DONE [0-9.]+s$/ { n = $0; sub(/ .*/, "", n); t = $0; sub(/.* DONE /, "", t); sub(/s$/, "", t)
                        if (n == ctx) c = t; if (n == run) u = t; if (n == ex) e = t }
    /^store [a-z0-9]+ (download|upload):/ { x = $0; sub(/ bytes, /, "|", x); sub(/.*\|/, "", x); sub(/s$/, "", x); s = x }
    END { if (op == "restore") { row("download", s); row("context", c); row("unpack-run", u) }
          else { row("pack-run", u); row("export", e); row("upload", s) } }' "$1" >>"$OUT"
}

floor_round() { # WORKLOAD ROUND
  local w=$1 r=$2 out=$B/floor-out
  rm -rf "$out"; mkdir -p "$out"; sync
  tick; curl -fsS "$SEED_GET" | zstd -q -d -T0 | tar -xf - -C "$out" || fail "floor restore"
  tock "$w" "$r" floor restore
  [ "$(find "$out" -type f ! -path '*/.bkcache/*' | wc -l)" = "$FILES" ] || fail "the floor restore lost files"
  rm -rf "$out"; sync
  tick
  tar -cf - -C "$SRC" . | zstd -q -T0 -3 -o "$B/floor.tar.zst" || fail "floor tar | zstd"
  tock "$w" "$r" floor save-tar+zstd
  tick
  curl -fsS -o /dev/null -X PUT -T "$B/floor.tar.zst" -H "x-ms-blob-type: BlockBlob" \
    -H "x-ms-version: 2024-11-04" -H "Expect:" "$(sas "bench/floor-$w-$r" cw)" || fail "floor upload"
  tock "$w" "$r" floor save-upload
  delete_blob "bench/floor-$w-$r"; rm -f "$B/floor.tar.zst"
}

# Azurite frees a deleted blob's memory only in its mark-and-sweep, every 10 minutes, and
# a round puts three whole archives into its heap (bkcache's, the peer's, the floor's):
# with W1 it grew to 11.5 GB and the kernel killed it. So every round starts on a fresh
# Azurite on the same port (untimed): the emulator keeps its entries, the container is made
# again and the seeds' blobs are put back, each whole (Put Blob), which also gives every
# round the same blob layout (Azurite serves a blob committed from blocks more slowly).
fresh_azurite() {
  local b i=0
  kill "$AZURITE_PID" 2>/dev/null; wait "$AZURITE_PID" 2>/dev/null
  start_azurite || fail "cannot restart Azurite"
  curl -fsS -X POST "$EMU/_emu/container" >/dev/null || fail "cannot make the container again"
  for b in "${SEEDS[@]}"; do
    curl -fsS -o /dev/null -X PUT -T "$B/seed-$i" -H "x-ms-blob-type: BlockBlob" \
      -H "x-ms-version: 2024-11-04" -H "Expect:" "$(sas "$b" cw)" || fail "putting seed $b back"
    i=$((i + 1))
  done
}

# ---- per workload: data, seeds, rounds ----
stack() { # what runs the builds, in words
  if [ "$STACKS" = 26 ]; then
    echo "docker $(D version --format '{{.Server.Version}}') + buildx $(D buildx version | awk '{ print $2 }')" \
      "(${DOCKER26_STORE:-containerd} image store; docker buildx build, bkcache --driver buildx)"
  else
    echo "docker $(D version --format '{{.Server.Version}}') (overlay2; docker build, bkcache --driver docker)"
  fi
}

summary=$WORK/summary
: >"$summary"
echo "bench_e2e: $(nproc) CPUs, load average $(load) at the start, $(date -u '+%F %T') UTC," \
  "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(stack)"
for w in $WORKLOADS; do
  SRC=$B/ws-$w/data
  echo "bench_e2e: generating $w (scale $SCALE) ..." >&2
  python3 "$ROOT/tests/bench/gen_archive_data.py" "$w" "$SRC" "$SCALE" || fail "gen_archive_data"
  FILES=$(find "$SRC" -type f | wc -l)
  MIB=$(( $(du -sb "$SRC" | cut -f1) / 1048576 ))
  cp_dockerfiles "$w"
  # seeds: bkcache's entry from the same tree (directory mode), the peer's by saveCache
  mkdir -p "$B/dir-$w"
  cp -al "$SRC" "$B/dir-$w/$(name_of "$w")"
  "$BK" save -f "$WORK/ctx/Dockerfile" --provider github --key-extra seed --mount "$(name_of "$w")" \
    --delta "$BK_DELTA" --dir "$B/dir-$w" >"$WORK/seed.out" 2>&1 || { cat "$WORK/seed.out"; fail "seeding bkcache"; }
  rm -rf "$B/dir-$w"
  BK_SEED=$(sed -n "s/^$(name_of "$w"): saved \([^ ]*\) .*/\1/p" "$WORK/seed.out")
  [ -n "$BK_SEED" ] || { cat "$WORK/seed.out"; fail "seeding bkcache"; }
  ac_node "$B/ws-$w" save "peer-$w-seed" data >"$WORK/ac.out" || fail "seeding the peer"
  # The floor reads the very blob bkcache restores, so both read the same bytes in the
  # same layout (zstd -d skips the manifest's skippable frame; tar extracts
  # .bkcache/manifest.json as one more file).
  SEED_BLOB=$(seed_archive "$BK_SEED")
  SEED_GET=$(sas "$SEED_BLOB" r)
  PEER_BLOB=$(blob_of "peer-$w-seed")
  # What each side moves over the network: bkcache's archive (level 3, independent 8 MiB
  # frames) and the peer's (zstdmt --long=30).
  BK_BYTES=$(blob_bytes "$SEED_BLOB"); PEER_BYTES=$(blob_bytes "$PEER_BLOB")
  # Every round starts on a fresh Azurite with the seeds' blobs put back (fresh_azurite):
  # bkcache's entry (an archive, or an index and its layer) and the peer's.
  mapfile -t SEEDS < <(printf '%s\n' "$(blob_of "$BK_SEED")" "$SEED_BLOB" "$PEER_BLOB" | sort -u)
  i=0
  for b in "${SEEDS[@]}"; do
    curl -fsS -o "$B/seed-$i" "$(sas "$b" r)" || fail "keeping seed $b"; i=$((i + 1))
  done
  echo "bench_e2e: $w: $FILES files, $MIB MiB; archives: bkcache $BK_BYTES bytes," \
    "peer $PEER_BYTES bytes; $RUNS rounds" >&2
  set -- $METHODS
  for r in $(seq 1 "$RUNS"); do
    order=""
    for i in $(seq 0 $(($# - 1))); do # round r starts with method r-1, cyclically
      j=$(( (r - 1 + i) % $# + 1 )); order="$order ${!j}"
    done
    fresh_azurite
    for m in $order; do "${m}_round" "$w" "$r"; done
    echo "bench_e2e: $w round $r done ($order), load average $(load)" >&2
  done
  drop_entry "peer-$w-seed"; drop_entry "$BK_SEED"; rm -f "$B"/seed-*
  for k in $(curl -fsS "$EMU/_emu/entries" | grep -o '"key":"[^"]*"' | cut -d'"' -f4); do
    drop_entry "$k" 2>/dev/null
  done
  rm -rf "$B/ws-$w"
  prune
  echo "$w $FILES $MIB $BK_BYTES $PEER_BYTES" >>"$summary"
done

# ---- the table ----
median() { # WORKLOAD METHOD PHASE-PREFIX: median over rounds of the phases' sum
  awk -F'\t' -v w="$1" -v m="$2" -v p="$3" '
    $1 == w && $3 == m && index($4, p) == 1 { s[$2] += $5; n[$2] = 1 }
    END { k = 0; for (r in n) v[++k] = s[r];
          for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
          if (k == 0) print "-"; else if (k % 2) printf "%.2f", v[(k + 1) / 2];
          else printf "%.2f", (v[k / 2] + v[k / 2 + 1]) / 2 }' "$OUT"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "End to end through the GitHub provider (emulator + Azurite on 127.0.0.1), dockerd and data"
echo "on tmpfs; $(stack)"
echo "median of $RUNS rounds; seconds; load average $(load) at the end"
while read -r w files mib bk_bytes peer_bytes; do
  echo
  echo "$w: $files files, $mib MiB; archives: bkcache $bk_bytes bytes, peer $peer_bytes bytes"
  printf '%-8s %9s %9s   %s\n' method restore save "phases (restore | save)"
  pr=$(median "$w" peer restore); ps=$(median "$w" peer save)
  br=$(median "$w" bkcache restore); bs=$(median "$w" bkcache save)
  fr=$(median "$w" floor restore); fs=$(median "$w" floor save)
  printf '%-8s %9s %9s   download+untar %s, inject %s | extract %s, tar+upload %s\n' peer "$pr" "$ps" \
    "$(median "$w" peer restore-download)" "$(median "$w" peer restore-inject)" \
    "$(median "$w" peer save-extract)" "$(median "$w" peer save-tar)"
  printf '%-8s %9s %9s   download %s, context %s, unpack RUN %s | pack RUN %s, export %s, upload %s\n' \
    bkcache "$br" "$bs" "$(median "$w" bkcache detail-restore-download)" \
    "$(median "$w" bkcache detail-restore-context)" "$(median "$w" bkcache detail-restore-unpack-run)" \
    "$(median "$w" bkcache detail-save-pack-run)" "$(median "$w" bkcache detail-save-export)" \
    "$(median "$w" bkcache detail-save-upload)"
  printf '%-8s %9s %9s   curl | zstd -d | tar -x | tar | zstd %s, curl Put Blob %s\n' floor "$fr" "$fs" \
    "$(median "$w" floor save-tar)" "$(median "$w" floor save-upload)"
  echo "peer / bkcache: restore $(ratio "$pr" "$br"), save $(ratio "$ps" "$bs") (targets >= 3x, >= 5x)"
  echo "bkcache / floor: restore $(ratio "$br" "$fr"), save $(ratio "$bs" "$fs") (target <= 1.5x)"
done <"$summary"
