# lib.sh - shared by the BuildKit end-to-end tests (tests/e2e/builder_*.sh).
#
# A test script sources this file, calls e2e_init NAME, then uses:
#   ubuild [docker build args...]   the user's build of $T/ctx/Dockerfile with
#                                   a fresh BKCACHE_E2E_NONCE (so its RUNs run),
#                                   output in $T/out, log in $T/build.log
#   bk CMD [args...]                bkcache CMD on $T/ctx/Dockerfile with a local
#                                   store in $T/store; stdout $T/bk.out, stderr
#                                   $T/bk.err; returns bkcache's status
#   prune                           wipe the builder's cache (docker builder prune -af)
#   check COND MESSAGE / fail MESSAGE / pass MESSAGE
# The builder is the daemon's BuildKit through the Debian client
# /usr/bin/docker with DOCKER_BUILDKIT=1 (tests/e2e/run.sh starts a dockerd
# when none runs). Test Dockerfiles may use Debian's busybox-static, copied
# into the context as busybox; the product itself never does.
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1
BK=${BKCACHE:-$(pwd)/bkcache}
E2E_ROOT=${E2E_ROOT:-$(pwd)}
E2E_PASSED=0

e2e_init() {
  E2E_NAME=$1
  T=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-e2e-$1-XXXXXX")
  trap 'rm -rf "$T"' EXIT INT TERM
  mkdir -p "$T/ctx" "$T/out"
  cp /bin/busybox "$T/ctx/busybox"
  cp "$E2E_ROOT/tests/e2e/inspect.sh" "$T/ctx/inspect.sh"
  touch -d '2001-02-03 04:05:06.123456789' "$T/ctx/mtime-1"
  touch -d '2011-12-13 14:15:16.987654321' "$T/ctx/mtime-2"
}

fail() {
  echo "$E2E_NAME: FAIL: $*" >&2
  for f in bk.err build.log; do
    [ -s "$T/$f" ] && tail -15 "$T/$f" | sed "s/^/  $f: /" >&2
  done
  exit 1
}

pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  echo "$E2E_NAME: ok - $*"
}

check() {
  cond=$1
  shift
  eval "$cond" || fail "$*"
}

# same_list WANT MESSAGE...: the last ubuild's listing ($T/out/list) must
# equal the file WANT; else its diff, then fail.
same_list() {
  want=$1
  shift
  cmp -s "$want" "$T/out/list" || {
    diff "$want" "$T/out/list" | head -20 >&2
    fail "$*"
  }
}

ubuild() {
  rm -rf "$T/out"
  "$DOCKER" build --network=none --progress=plain -f "$T/ctx/Dockerfile" \
    --build-arg "BKCACHE_E2E_NONCE=$(date +%s%N)" -o "type=local,dest=$T/out" "$@" \
    "$T/ctx" >"$T/build.log" 2>&1
}

bk() {
  cmd=$1
  shift
  "$BK" "$cmd" -f "$T/ctx/Dockerfile" --provider local --store "$T/store" \
    --state "$T/state.json" --docker "${BK_DOCKER:-$DOCKER}" "$@" >"$T/bk.out" 2>"$T/bk.err"
}

# inspect_dockerfile MOUNT_FLAGS DIR...: the user's Dockerfile of most suites,
# one RUN with MOUNT_FLAGS running inspect.sh over the DIRs ($ACTION picks
# fill or list), its /out exported.
inspect_dockerfile() {
  mounts=$1
  shift
  dirs=""
  for d in "$@"; do dirs="$dirs, \"$d\""; done
  cat >"$T/ctx/Dockerfile" <<DF
FROM scratch AS work
COPY busybox /bin/busybox
COPY inspect.sh mtime-1 mtime-2 /bin/
ARG ACTION=list
ARG BKCACHE_E2E_NONCE
RUN $mounts ["/bin/busybox", "sh", "/bin/inspect.sh"$dirs]

FROM scratch
COPY --from=work /out/ /
DF
}

prune() {
  "$DOCKER" builder prune -af >/dev/null 2>&1 || fail "docker builder prune failed"
}

e2e_done() {
  echo "$E2E_NAME: $E2E_PASSED passed"
}
