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

# ---- setup ----
npm_deps() { # npm ci, unless node_modules was installed from this very lock file
  local stamp="$HERE/node_modules/.bkcache-lock"
  cmp -s "$HERE/package-lock.json" "$stamp" 2>/dev/null && return 0
  echo "github: npm ci in tests/github"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) ||
    { cat "$WORK/npm.log"; echo "github: 0 passed, 1 failed"; exit 1; }
  cp "$HERE/package-lock.json" "$stamp"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # file pattern
  for _ in $(seq 1 150); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "github: timed out waiting for '$2' in $1"; cat "$1"; return 1
}

npm_deps
AZ_PORT=$(free_port)
"$HERE/node_modules/.bin/azurite-blob" --skipApiVersionCheck --disableTelemetry --loose \
  --inMemoryPersistence --blobHost 127.0.0.1 --blobPort "$AZ_PORT" >"$WORK/azurite.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/azurite.log" "successfully listens" || exit 1
AZURITE_URL="http://127.0.0.1:$AZ_PORT/devstoreaccount1" EMU_DIR="$WORK" \
  node "$ROOT/tests/emulators/github/emulator.js" >"$WORK/emulator.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/emulator.log" "emulator listening on" || exit 1
EMU_PORT=$(sed -n 's/emulator listening on //p' "$WORK/emulator.log")
EMU="http://127.0.0.1:$EMU_PORT"

MAIN_AC='[{"Scope":"refs/heads/main","Permission":3}]'
token() { # [ac-json] [ttl]
  curl -fsS -G "$EMU/_emu/token" --data-urlencode "ac=${1:-$MAIN_AC}" --data-urlencode "ttl=${2:-3600}"
}
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

# ---- suites ----
for s in "$HERE"/cases_${GH_CASES:-}*.sh; do  # GH_CASES=3 runs cases_3_* only
  # shellcheck source=/dev/null
  . "$s"
done

echo "github: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
