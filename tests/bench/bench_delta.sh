#!/bin/bash
# bench_delta.sh - delta saves (issue 20) against today's single archive, on W1
# (tests/bench/gen_archive_data.py: 100k files of 1-20 KiB, ~1 GiB): `bkcache save
# --dir` / `bkcache restore --dir` on the local store (--provider local --store DIR),
# and the restore target once more into a BuildKit builder (c2). Checks the issue's
# three targets:
#
#   (a) size      the first save of the tree (--delta auto: a layered entry, one full
#                 layer) stores at most 3% more bytes than a save of the same tree in
#                 today's format (--delta off);
#   (b) upload    restore that entry into a new directory, rewrite 2% of its files
#                 (chosen at random with a fixed seed; same sizes, new contents of the
#                 generator's kind) and save again: the bytes that save adds to the
#                 store are at most 5% of what the first save stored;
#   (c) restore   restoring the changed cache (its two layers) takes at most 1.1x the
#                 time of restoring a full archive of the same changed tree (saved with
#                 --delta off into a second store); rounds interleaved, the side that
#                 goes first alternating, medians of BENCH_RUNS;
#   (c2) builder  the same two stores restored into a BuildKit builder's cache mount,
#                 the default mode (no --dir), against the same 1.1x: both go into
#                 the transfer build's context unread (a plain archive's framing and
#                 manifest are checked on the host), and bkcache-helper unpacks and
#                 verifies them inside the build. A Docker 20.10 dockerd of its own, as
#                 bench_e2e.sh starts it (own socket, data-root and exec-root on the
#                 tmpfs, --bridge=none; DOCKER_BUILDKIT=1 docker, bkcache --driver
#                 docker), stopped at the end; each restore after an untimed `docker
#                 builder prune -af`, one untimed restore first, rounds interleaved as
#                 in (c). Skipped (with a line saying why) when not root, without
#                 /usr/sbin/dockerd, or with BENCH_DELTA_BUILDER=0.
#
# "Bytes stored" is the sum of the sizes of the store's files (each inode once), so it
# counts whatever the store keeps for an entry (index, blobs, metadata); "bytes a save
# adds" is the sum of the sizes of files that were not there before it. Every restore
# writes into an empty directory (or an empty cache mount, in (c2)); the restores'
# content digests (--json) must equal the changed tree's (a restore that is not the
# same cache is an error, not a time).
# Everything (data, stores, restores) lives on one tmpfs (root: a tmpfs mounted here;
# else a directory in /dev/shm), so disk noise drops out.
#
# Prints date, commit, CPUs, load and one PASS/FAIL line per target; exit 0 (also on a
# FAIL, like the other benches; BENCH_STRICT=1 makes a FAIL exit 1), 1 when a step
# fails. Fails (exit 1) when `bkcache save --help` no longer names `--delta auto`.
#
# Environment: BKCACHE (default ./bkcache), BENCH_SCALE (default 1; 0.05 for a quick
# check), BENCH_RUNS (restore rounds, default 5), BENCH_CHANGE (the share of files
# rewritten, default 0.02), BENCH_SEED (default 20), BENCH_TMPFS_SIZE (default 8g),
# BENCH_STRICT, BENCH_DELTA_BUILDER (0: no (c2)). Run it under the bench lock, and
# for (c2) under the Docker lock too:
#   flock /tmp/bkcache-bench.lock flock /tmp/bkcache-docker.lock bash tests/bench/bench_delta.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BK=${BKCACHE:-$ROOT/bkcache}
SCALE=${BENCH_SCALE:-1}
RUNS=${BENCH_RUNS:-5}
CHANGE=${BENCH_CHANGE:-0.02}
SEED=${BENCH_SEED:-20}

skip() { echo "bench_delta: SKIP ($*)"; exit 0; }
fail() { echo "bench_delta: $*" >&2; exit 1; }
[ -x "$BK" ] || skip "no $BK: make"
if ! command -v python3 >/dev/null || ! command -v zstd >/dev/null; then skip "needs python3 and zstd"; fi
"$BK" save --help 2>&1 | grep -q -- '--delta auto' || {
  echo "bench_delta: $BK save --help names no '--delta auto'" >&2
  exit 1
}

if [ "$(id -u)" = 0 ]; then
  B=$(mktemp -d /tmp/bk-delta.XXXXXX)
  mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-8g},mode=0755" tmpfs "$B" || fail "cannot mount a tmpfs on $B"
else
  if [ ! -d /dev/shm ] || [ ! -w /dev/shm ]; then skip "not root and no writable /dev/shm: no tmpfs"; fi
  B=$(mktemp -d /dev/shm/bk-delta.XXXXXX)
fi
DOCKERD_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$DOCKERD_PID" ]; then # (c2)'s dockerd: stopped before its data-root goes
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  if mountpoint -q "$B"; then umount "$B" 2>/dev/null || umount -l "$B"; fi
  rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$B/tmp" "$B/ctx"
export TMPDIR=$B/tmp

now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# One cache mount; its identity's directory under --dir is DIR/<name>.
DF=$B/ctx/Dockerfile
printf 'FROM scratch\nRUN --mount=type=cache,id=bench-delta,target=/c ["/bin/true"]\n' >"$DF"
NAME=$("$BK" mounts -f "$DF" | awk '$NF == "/bench-delta" { print $3 }')
[ -n "$NAME" ] || fail "bkcache mounts found no identity in $DF"

# bk save|restore STORE DIR RUN-ID [ARGS...]: one identity, --json to $B/out.json
bk() {
  local cmd=$1 store=$2 dir=$3 run=$4; shift 4
  "$BK" "$cmd" -f "$DF" --provider local --store "$store" --dir "$dir" --mount "$NAME" \
    --state "$B/state-$(basename "$store").json" --run-id "$run" --json "$@" \
    >"$B/out.json" 2>"$B/bk.err" || { cat "$B/bk.err" >&2; fail "bkcache $cmd ($store) failed"; }
}
field() { # FIELD: the identity's field from $B/out.json
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["identities"][0][sys.argv[2]])' \
    "$B/out.json" "$1"
}
expect() { # FIELD VALUE WHAT
  local v; v=$(field "$1")
  [ "$v" = "$2" ] || { cat "$B/out.json" >&2; fail "$3: $1 is '$v', not '$2'"; }
}
# The store's files as "inode size path" lines; the bytes of a listing, each inode once.
listing() { find "$1" -type f ! -name .lock -printf '%i %s %P\n' | sort -k3; }
bytes_of() { awk '!seen[$1]++ { s += $2 } END { print s + 0 }' "$1"; }
added() { # BEFORE AFTER: bytes of the files in AFTER whose path is not in BEFORE
  awk 'NR == FNR { old[$3] = 1; next } !($3 in old) && !seen[$1]++ { s += $2 } END { print s + 0 }' "$1" "$2"
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? 100 * a / b : 0) }'; }
verdict() { # OK(0|1) LINE
  if [ "$1" = 1 ]; then echo "PASS $2"; else echo "FAIL $2"; FAILED=1; fi
}
FAILED=0

echo "bench_delta: $(date -u '+%F %T') UTC, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" \
  "($("$BK" --version 2>/dev/null))," \
  "$(nproc) CPUs, load average $(load) at the start; scale $SCALE, $RUNS restore rounds," \
  "$(awk -v c="$CHANGE" 'BEGIN { print c * 100 }')% of the files rewritten (seed $SEED); tmpfs"

# ---- the tree ----
SRC=$B/src
echo "bench_delta: generating w1 (scale $SCALE) ..." >&2
python3 "$ROOT/tests/bench/gen_archive_data.py" w1 "$SRC/$NAME" "$SCALE" || fail "gen_archive_data"
FILES=$(find "$SRC/$NAME" -type f | wc -l)
TREE=$(du -sb "$SRC/$NAME" | cut -f1)
echo "bench_delta: w1: $FILES files, $(mib "$TREE")"

# ---- (a) the first save, layered, against today's format ----
t0=$(now); bk save "$B/store-delta" "$SRC" r1 --delta auto; t1=$(now)
expect action saved "first save (--delta auto)"
listing "$B/store-delta" >"$B/list1"
FULL=$(bytes_of "$B/list1")
t2=$(now); bk save "$B/store-plain" "$SRC" r1 --delta off; t3=$(now)
expect action saved "first save (--delta off)"
listing "$B/store-plain" >"$B/list-plain"
PLAIN=$(bytes_of "$B/list-plain")
rm -rf "$B/store-plain" "$SRC"
echo "(a) first save: --delta auto stores $FULL bytes ($(mib "$FULL"), $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)," \
  "--delta off $PLAIN bytes ($(mib "$PLAIN"), $(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }') s)"
ratio_a=$(pct "$FULL" "$PLAIN")
verdict "$(awk -v r="$ratio_a" 'BEGIN { print (r <= 103 ? 1 : 0) }')" \
  "(a) first save's size: $ratio_a% of today's single archive (target <= 103%)"

# ---- (b) restore, rewrite 2%, save again ----
WS=$B/ws
bk restore "$B/store-delta" "$WS" r2 --fail-on-cache-miss
expect hit exact "restore of the first save"
python3 - "$WS/$NAME" "$CHANGE" "$SEED" "$ROOT/tests/bench" <<'PY' || fail "rewriting files"
# Rewrite a fixed-seed random share of the files: same size, new contents made the
# way gen_archive_data.py makes them (half text, half random bytes).
import os, random, sys
root, share, seed, bench = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, bench)
import gen_archive_data as gen
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
               if not f.startswith(".bkcache"))
pick = random.Random(seed).sample(files, max(1, round(share * len(files))))
for p in pick:
    size = os.path.getsize(p)
    with open(p, "wb") as f:
        f.write(gen.chunk(size))
print("bench_delta: rewrote %d of %d files" % (len(pick), len(files)), file=sys.stderr)
PY
t0=$(now); bk save "$B/store-delta" "$WS" r2 --delta auto --keep-per-key 0; t1=$(now)
expect action saved "second save (--delta auto)"
DIGEST=$(field digest)
JSON_BYTES=$(field bytes)
listing "$B/store-delta" >"$B/list2"
UP=$(added "$B/list1" "$B/list2")
LAYERS=$(python3 - "$B/store-delta" "$DIGEST" <<'PY'
# How many layers the store's index of the changed tree (its content digest) names
# (0: no index has it).
import json, os, subprocess, sys
store, digest = sys.argv[1], sys.argv[2]
for d, _, fs in os.walk(store):
    for f in fs:
        p = os.path.join(d, f)
        if os.path.getsize(p) > 65536:
            continue
        try:
            doc = json.loads(subprocess.run(["zstd", "-q", "-d", "-c", p], capture_output=True,
                                            check=True).stdout)
        except Exception:
            continue
        if (isinstance(doc, dict) and doc.get("bkcache_index")
                and str(doc.get("digest", "")).split(":")[-1] == digest):
            print(len(doc.get("layers", [])))
            sys.exit(0)
print(0)
PY
)
echo "(b) second save: adds $UP bytes to the store ($(mib "$UP"), $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s);" \
  "save --json bytes $JSON_BYTES; the entry's index names $LAYERS layers"
ratio_b=$(pct "$UP" "$FULL")
verdict "$(awk -v r="$ratio_b" 'BEGIN { print (r <= 5 ? 1 : 0) }')" \
  "(b) upload after rewriting $(awk -v c="$CHANGE" 'BEGIN { print c * 100 }')% of the files: $ratio_b% of the first full archive (target <= 5%)"

# ---- (c) restore of the two layers against a full archive of the same tree ----
bk save "$B/store-full" "$WS" r2 --delta off
expect action saved "full save of the changed tree (--delta off)"
[ "$(field digest)" = "$DIGEST" ] || fail "the --delta off save of the changed tree has another digest"
rm -rf "$WS"
: >"$B/t-layers"; : >"$B/t-full"
restore_one() { # layers|full ROUND
  local store=$B/store-delta; [ "$1" = full ] && store=$B/store-full
  rm -rf "$B/dst" "$B/state-$(basename "$store").json"; sync
  local a b; a=$(now)
  bk restore "$store" "$B/dst" "c$2" --fail-on-cache-miss
  b=$(now)
  expect hit exact "restore ($1)"
  expect digest "$DIGEST" "restore ($1)"
  [ "$(find "$B/dst/$NAME" -type f ! -name '.bkcache*' | wc -l)" = "$FILES" ] || fail "restore ($1) lost files"
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f\n", b - a }' >>"$B/t-$1"
}
for r in $(seq 1 "$RUNS"); do
  if [ $((r % 2)) = 1 ]; then restore_one layers "$r"; restore_one full "$r"
  else restore_one full "$r"; restore_one layers "$r"; fi
  echo "bench_delta: restore round $r done, load average $(load)" >&2
done
rm -rf "$B/dst"
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ML=$(median "$B/t-layers"); MF=$(median "$B/t-full")
echo "(c) restore, median of $RUNS: two layers $ML s ($(tr '\n' ' ' <"$B/t-layers")), full archive $MF s ($(tr '\n' ' ' <"$B/t-full"))"
ratio_c=$(awk -v a="$ML" -v b="$MF" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
verdict "$(awk -v r="$ratio_c" 'BEGIN { print (r <= 1.1 ? 1 : 0) }')" \
  "(c) restore of the changed cache: ${ratio_c}x a full-archive restore (target <= 1.1x)"
[ "$LAYERS" = 2 ] || echo "note: the changed cache's entry names $LAYERS layers, not 2: (b) and (c) did not measure a delta"

# ---- (c2) the same two stores restored into a BuildKit builder (Docker 20.10) ----
# The default mode: the plain archive or the layered entry's blobs go into the
# transfer build's context, and the helper unpacks (and verifies) them inside the
# build. A dockerd of our own, started as
# bench_e2e.sh starts its Docker 20 stack: own socket, data-root and exec-root on the
# tmpfs, --bridge=none (bkcache's transfer builds run with --network=none).
builder_skip=""
if [ "${BENCH_DELTA_BUILDER:-1}" = 0 ]; then builder_skip="BENCH_DELTA_BUILDER=0"
elif [ "$(id -u)" != 0 ]; then builder_skip="not root: no dockerd of its own"
elif [ ! -x /usr/sbin/dockerd ] || [ ! -x /usr/bin/docker ]; then
  builder_skip="no /usr/sbin/dockerd or /usr/bin/docker: apt-get install docker.io"
elif [ ! -x "$(dirname "$BK")/bkcache-helper" ]; then builder_skip="no $(dirname "$BK")/bkcache-helper: make"
fi
if [ -n "$builder_skip" ]; then
  echo "(c2) builder restore: SKIP ($builder_skip)"
else
  DOCKER=/usr/bin/docker
  export DOCKER_BUILDKIT=1 DOCKER_HOST=unix://$B/docker.sock
  unset DOCKER_CONFIG # the 20.10 client: no buildx plugin of the caller's
  /usr/sbin/dockerd -H "$DOCKER_HOST" --data-root "$B/docker" --exec-root "$B/exec" \
    --pidfile "$B/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    >"$B/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for i in $(seq 1 300); do
    "$DOCKER" version >/dev/null 2>&1 && break
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null || [ "$i" = 300 ]; then
      tail -20 "$B/dockerd.log" >&2; fail "dockerd did not come up"
    fi
    sleep 0.2
  done
  bkb() { # STORE RUN-ID: restore the identity into the builder's cache mount
    rm -f "$B/state-b.json"
    "$BK" restore -f "$DF" --provider local --store "$1" --mount "$NAME" --docker "$DOCKER" \
      --driver docker --state "$B/state-b.json" --run-id "$2" --json --fail-on-cache-miss \
      >"$B/out.json" 2>"$B/bk.err" || { cat "$B/bk.err" >&2; fail "bkcache restore into the builder ($1) failed"; }
  }
  restore_builder() { # layers|full ROUND
    local store=$B/store-delta; [ "$1" = full ] && store=$B/store-full
    "$DOCKER" builder prune -af >/dev/null || fail "docker builder prune"; sync
    local a b; a=$(now)
    bkb "$store" "b$2"
    b=$(now)
    expect hit exact "builder restore ($1)"
    expect digest "$DIGEST" "builder restore ($1)"
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f\n", b - a }' >>"$B/tb-$1"
  }
  # One untimed restore first: the daemon's first build pays one-off costs.
  "$DOCKER" builder prune -af >/dev/null; bkb "$B/store-full" b0
  : >"$B/tb-layers"; : >"$B/tb-full"
  for r in $(seq 1 "$RUNS"); do
    if [ $((r % 2)) = 1 ]; then restore_builder layers "$r"; restore_builder full "$r"
    else restore_builder full "$r"; restore_builder layers "$r"; fi
    echo "bench_delta: builder restore round $r done, load average $(load)" >&2
  done
  "$DOCKER" builder prune -af >/dev/null
  ML=$(median "$B/tb-layers"); MF=$(median "$B/tb-full")
  echo "bench_delta: (c2) on docker $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null)" \
    "(--driver docker), after one untimed restore"
  echo "(c2) builder restore, median of $RUNS: two layers $ML s ($(tr '\n' ' ' <"$B/tb-layers")), full archive $MF s ($(tr '\n' ' ' <"$B/tb-full"))"
  ratio_c2=$(awk -v a="$ML" -v b="$MF" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  verdict "$(awk -v r="$ratio_c2" 'BEGIN { print (r <= 1.1 ? 1 : 0) }')" \
    "(c2) builder restore of the changed cache: ${ratio_c2}x a full-archive restore (target <= 1.1x)"
fi
echo "bench_delta: load average $(load) at the end"
[ "$FAILED" = 0 ] || [ "${BENCH_STRICT:-}" != 1 ] || exit 1
exit 0
