# dirmode_lib.sh - shared by the directory-mode CLI tests (dirmode.sh,
# dirmode_delta.sh). Set NAME before sourcing it; it sets BK (the binary,
# $BKCACHE or ./bkcache), df (the Dockerfile), T (a scratch directory removed
# on exit) and passed, and defines:
#   run STATUS args...   bkcache args...: stdout in $T/out, stderr in $T/err;
#                        fails unless it exits STATUS
#   has TEXT out|err     fails unless the last command's output holds TEXT
#   fail MESSAGE / ok    end with the failure (and the last stderr) / count a pass
set -u
BK=${BKCACHE:-./bkcache}
df=examples/Dockerfile
[ -f "$df" ] || df=tests/e2e/Dockerfile.dirmode
T=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-$NAME-XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
export BKCACHE_RETRIES=0
passed=0
fail() { echo "$NAME: FAIL: $*" >&2; [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" >&2; exit 1; }
ok() { passed=$((passed + 1)); }
run() {
  want=$1; shift
  "$BK" "$@" >"$T/out" 2>"$T/err"; got=$?
  [ "$got" -eq "$want" ] || fail "bkcache $*: exit $got, expected $want"
}
has() { grep -q -- "$1" "$T/$2" || fail "expected '$1' in $2 of the last command"; }
# kill_paused PID WHAT: wait until process PID pauses at its test point
# (BKCACHE_TEST_*_PAUSE: it renames itself bkcache-paused), then kill -9 it
kill_paused() {
  i=0
  while [ "$(cat /proc/$1/comm 2>/dev/null)" != bkcache-paused ] && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i + 1))
  done
  [ $i -lt 300 ] || fail "$2 never paused"
  kill -9 "$1"
  wait "$1" 2>/dev/null
}
