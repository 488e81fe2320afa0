# services.sh - start Azurite and the cache-service emulator on free loopback ports, for
# tests/github/run.sh and tests/bench/bench_github.sh (sourced). Needs HERE (tests/github),
# ROOT and WORK set, and a PIDS array the caller's exit trap kills. Sets AZ_PORT, EMU_PORT,
# EMU (the emulator's origin), AZURITE_PID, MAIN_AC and defines token() and start_azurite()
# (a fresh Azurite on the same port; POST $EMU/_emu/container then makes the container again).
# shellcheck shell=bash

npm_deps() { # npm ci, unless node_modules was installed from this very lock file
  local stamp="$HERE/node_modules/.bkcache-lock"
  cmp -s "$HERE/package-lock.json" "$stamp" 2>/dev/null && return 0
  echo "github: npm ci in tests/github"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) ||
    { cat "$WORK/npm.log"; return 1; }
  cp "$HERE/package-lock.json" "$stamp"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # FILE PATTERN
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "github: timed out waiting for '$2' in $1"; cat "$1"; return 1
}

# shellcheck disable=SC2034 # AZURITE_PID is for the caller (bench_e2e.sh restarts Azurite)
start_azurite() { # on AZ_PORT, blobs in memory; AZURITE_PID is its pid (also in PIDS)
  "$HERE/node_modules/.bin/azurite-blob" --skipApiVersionCheck --disableTelemetry --loose \
    --inMemoryPersistence --blobHost 127.0.0.1 --blobPort "$AZ_PORT" >"$WORK/azurite.log" 2>&1 &
  AZURITE_PID=$!
  PIDS+=($!)
  wait_for "$WORK/azurite.log" "successfully listens"
}

start_services() {
  npm_deps || return 1
  AZ_PORT=$(free_port)
  start_azurite || return 1
  AZURITE_URL="http://127.0.0.1:$AZ_PORT/devstoreaccount1" EMU_DIR="$WORK" \
    node "$ROOT/tests/emulators/github/emulator.js" >"$WORK/emulator.log" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/emulator.log" "emulator listening on" || return 1
  EMU_PORT=$(sed -n 's/emulator listening on //p' "$WORK/emulator.log")
  EMU="http://127.0.0.1:$EMU_PORT"
}

MAIN_AC='[{"Scope":"refs/heads/main","Permission":3}]'
token() { # [AC-JSON] [TTL-SECONDS]
  curl -fsS -G "$EMU/_emu/token" --data-urlencode "ac=${1:-$MAIN_AC}" --data-urlencode "ttl=${2:-3600}"
}
