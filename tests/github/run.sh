#!/bin/bash
# run.sh - the GitHub Actions cache tests (make test-github).
#
# Starts Azurite (blob service only, in memory) and the cache-service emulator
# on free loopback ports, then checks the provider (through tests/github/gh_client
# and, where the commands exist, the bkcache CLI), interop with the official
# @actions/cache client, and the JavaScript actions run the way the runner
# runs them. Everything started here is stopped on exit. Ends with the line
# "github: N passed, N failed" and exits 1 if anything failed.
#
# Needs: node + npm (dependencies installed with `npm ci` when out of date),
# zstd, GNU tar, curl. Env: BKCACHE, GH_CLIENT (set by mk/github.mk).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BKCACHE=${BKCACHE:-$ROOT/bkcache}
GH_CLIENT=${GH_CLIENT:-$ROOT/build/tests/github/gh_client}
WORK=$(mktemp -d /tmp/bk-github.XXXXXX)
PIDS=()
passed=0
failed=0

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- setup: Azurite + the emulator (services.sh), runner-like environment ----
# shellcheck source=tests/github/services.sh
. "$HERE/services.sh"
start_services || { echo "github: 0 passed, 1 failed"; exit 1; }

fault() { curl -fsS -X POST -d "$1" "$EMU/_emu/faults" >/dev/null; }
stat_of() { curl -fsS "$EMU/_emu/stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2 | grep . || echo 0; }
reset() { curl -fsS -X POST "$EMU/_emu/reset" >/dev/null; }

MAIN_TOKEN=$(token)
unset GITHUB_SERVER_URL ACTIONS_CACHE_URL ACTIONS_CACHE_SERVICE_V2
export GITHUB_ACTIONS=true ACTIONS_RESULTS_URL="$EMU/" ACTIONS_RUNTIME_TOKEN="$MAIN_TOKEN"
export ACTIONS_CACHE_SERVICE_V2=true RUNNER_TEMP="$WORK/runner-temp"
mkdir -p "$RUNNER_TEMP"

v1_env() { # run a command against service v1
  env -u ACTIONS_CACHE_SERVICE_V2 ACTIONS_CACHE_URL="$EMU/" "$@"
}

ok() { passed=$((passed + 1)); echo "ok   $1${GH_TIMES:+ ($SECONDS s)}"; }
nok() { failed=$((failed + 1)); echo "FAIL $1"; [ -f "$WORK/out" ] && sed 's/^/     | /' "$WORK/out" | tail -15; }
# check NAME COMMAND...: pass when the command exits 0
check() {
  local n=$1; shift
  if "$@" >"$WORK/out" 2>&1; then ok "$n"; else nok "$n"; fi
  cp "$WORK/out" "$WORK/last"
}
# expect_exit NAME CODE COMMAND... (output of either kept in $WORK/last)
expect_exit() {
  local n=$1 want=$2; shift 2
  "$@" >"$WORK/out" 2>&1; local got=$?
  cp "$WORK/out" "$WORK/last"
  if [ "$got" = "$want" ]; then ok "$n"; else echo "     exit $got, wanted $want" >>"$WORK/out"; nok "$n"; fi
}
rand_file() { head -c "$2" /dev/urandom >"$1"; }
# for the action cases: the actions, the runner simulator, a fresh step directory
A=$ROOT/actions
SIM="node $HERE/runner-sim.js"
export FAKE_LOG=$WORK/fake.log
json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }
export -f json_get # used inside bash -c checks
fresh() { rm -rf "$WORK/step" && mkdir -p "$WORK/step" && : >"$FAKE_LOG"; }

# ---- suites ----
for s in "$HERE"/cases_${GH_CASES:-}*.sh; do  # GH_CASES=3 runs cases_3_* only
  # shellcheck source=/dev/null
  . "$s"
done

echo "github: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
