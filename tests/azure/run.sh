#!/usr/bin/env bash
# run.sh - `make test-azure`: the Azure Pipelines provider and task against
# the loopback emulator (tests/emulators/azure/server.js).
#
# Needs BKCACHE (the CLI) and AZURE_DRIVER (tests/azure/driver.c, which calls
# the provider's vtable directly) from the Makefile. Installs the Node test
# dependencies with `npm ci` when node_modules is missing or older than the
# lock file, starts the emulator on 127.0.0.1, runs every case, stops it, and
# ends with "azure: N passed, N failed" (exit 1 on any failure).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${BKCACHE:=$root/bkcache}" "${AZURE_DRIVER:=$root/build/tests/azure-driver}"
export CI=${CI:-}
passed=0; failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-azure.XXXXXX")
emu_pid=

cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

npm_ci() { # DIR: install the locked dependencies unless already current
  local d=$1
  if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
      echo "azure: npm ci failed in $d"; echo "0 passed, 1 failed"; exit 1; }
  fi
}
npm_ci "$here"
npm_ci "$root/azure-tasks/bkcache"

node "$root/tests/emulators/azure/server.js" >"$work/emu.out" 2>"$work/emu.err" &
emu_pid=$!
for _ in $(seq 50); do grep -q '^PORT=' "$work/emu.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^PORT=//p' "$work/emu.out")
[ -n "$port" ] || { echo "azure: the emulator did not start"; cat "$work/emu.err"; echo "0 passed, 1 failed"; exit 1; }
E="http://127.0.0.1:$port"
PID_PROJECT=6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c

ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/       /' "$2" | tail -15; }
ctl()  { curl -sf -X POST "$E/_emulator/$1" -H 'Content-Type: application/json' -d "${2:-{\}}" >/dev/null; }
state(){ curl -sf "$E/_emulator/state"; }
reqs() { curl -sf "$E/_emulator/requests"; }
js()   { node -e "const s=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log(($1))"; }

# The pipeline's variables for run BUILD on BRANCH (current build in progress).
pipeline() { # BUILD BRANCH [TARGET]
  export TF_BUILD=True SYSTEM_COLLECTIONURI="$E/fabrikam/" SYSTEM_TEAMPROJECT="Fabrikam Fiber"
  export SYSTEM_TEAMPROJECTID=$PID_PROJECT SYSTEM_DEFINITIONID=5 BUILD_BUILDID=$1
  export BUILD_CONTAINERID=$((1000 + $1)) BUILD_SOURCEBRANCH=$2 SYSTEM_JOBID=job-$1
  export SYSTEM_ACCESSTOKEN=test-token AGENT_TEMPDIRECTORY="$work/agent-temp"
  mkdir -p "$AGENT_TEMPDIRECTORY"
  if [ -n "${3:-}" ]; then export SYSTEM_PULLREQUEST_TARGETBRANCH=$3; else unset SYSTEM_PULLREQUEST_TARGETBRANCH; fi
  ctl build "{\"id\":$1,\"definition\":5,\"branch\":\"$2\",\"status\":\"inProgress\",\"result\":null}"
}
finish() { # BUILD BRANCH [RESULT]: the run ends
  ctl build "{\"id\":$1,\"definition\":5,\"branch\":\"$2\",\"result\":\"${3:-succeeded}\"}"
}
fresh() { ctl reset; ctl definition '{"id":5,"defaultBranch":"refs/heads/develop"}'; }
drv() { "$AZURE_DRIVER" -o retry-ms=50 "$@"; }
# save KEY FILE in a fresh finished build ID on BRANCH
saved() { # ID BRANCH KEY FILE
  pipeline "$1" "$2"; drv upload "$3" "$4" >/dev/null 2>"$work/saved.err" || { cat "$work/saved.err"; return 1; }
  finish "$1" "$2"
}

head -c 300000 /dev/urandom >"$work/a.bin"
head -c 70000 /dev/urandom >"$work/b.bin"
: >"$work/empty.bin"

# ---------------------------------------------------------------- cold start
fresh; pipeline 1 refs/heads/main
drv lookup bkcache-go-k1 bkcache-go- >"$work/out" 2>"$work/err"; rc=$?
n=$(reqs | js "s.filter(r=>r.method!=='GET').length")
arts=$(state | js "Object.keys(s.artifacts).length")
items=$(state | js "Object.values(s.containers).reduce((n,c)=>n+c.length,0)")
if [ $rc -eq 3 ] && [ "$n" = 0 ] && [ "$arts" = 0 ] && [ "$items" = 0 ] && grep -q 'no artifact' "$work/err"; then
  ok "cold start: a miss, no writes, the build untouched"
else bad "cold start (rc=$rc writes=$n artifacts=$arts items=$items)" "$work/err"; fi

# ------------------------------------------------------- save: chunked upload
drv -o chunk-size=64K upload bkcache-go-k1 "$work/a.bin" >"$work/out" 2>"$work/err"; rc=$?
puts=$(reqs | js "s.filter(r=>r.method==='PUT').map(r=>r.range).join(' ')")
sha=$(state | js "s.containers['1001'].find(i=>i.path==='bkcache-go-k1/cache.tar.zst').sha256")
if [ $rc -eq 0 ] && [ "$sha" = "$(sha256sum <"$work/a.bin" | cut -d' ' -f1)" ] &&
   [ "$puts" = "bytes 0-65535/300000 bytes 65536-131071/300000 bytes 131072-196607/300000 bytes 196608-262143/300000 bytes 262144-299999/300000" ]; then
  ok "save: 5 Content-Range chunks, the container file matches"
else bad "save chunks (rc=$rc) [$puts]" "$work/err"; fi
art=$(state | js "JSON.stringify(s.artifacts['1'][0].resource)")
case $art in *'"type":"Container","data":"#/1001/bkcache-go-k1"'*'"artifactsize":"300000"'*) ok "save: artifact associated with the build";;
  *) bad "artifact association: $art";; esac
finish 1 refs/heads/main

# --------------------------------------------- the official Node client agrees
if (cd "$here" && node crosscheck.js "$E/fabrikam/" "$PID_PROJECT" 5 refs/heads/main bkcache-go-k1 "$work/a.bin") >"$work/out" 2>&1; then
  ok "azure-devops-node-api lists the build and artifact and downloads the same bytes"
else bad "node client cross-check" "$work/out"; fi

# ----------------------------------------------------------- restore: exact
pipeline 2 refs/heads/main
if drv fetch "$work/got" bkcache-go-k1 bkcache-go- >"$work/out" 2>"$work/err" && cmp -s "$work/got" "$work/a.bin" &&
   grep -q '^hit bkcache-go-k1 300000 refs/heads/main' "$work/out"; then
  ok "restore: the exact key from an earlier run, byte for byte"
else bad "restore exact" "$work/err"; fi

# ---------------------------------------------------- restore: newest prefix
saved 3 refs/heads/main bkcache-go-k3 "$work/b.bin"
pipeline 4 refs/heads/main
if drv fetch "$work/got" bkcache-go-k9 bkcache-rust- bkcache-go- >"$work/out" 2>"$work/err" &&
   grep -q '^hit bkcache-go-k3 ' "$work/out" && cmp -s "$work/got" "$work/b.bin"; then
  ok "restore: the newest artifact matching the first restore key that matches"
else bad "restore prefix" "$work/err"; fi

# ------------------------------------------------------ branch fallback order
fresh
saved 10 refs/heads/develop bkcache-go-dev "$work/b.bin"
saved 11 refs/heads/main bkcache-go-main "$work/b.bin"
saved 12 refs/heads/feature bkcache-go-feat "$work/b.bin"
pipeline 20 refs/heads/feature main
drv lookup bkcache-go-x bkcache-go- >"$work/o1" 2>&1
pipeline 21 refs/pull/5/merge main
drv lookup bkcache-go-x bkcache-go- >"$work/o2" 2>&1
pipeline 22 refs/heads/other
drv lookup bkcache-go-x bkcache-go- >"$work/o3" 2>&1
pipeline 23 refs/heads/other
drv -o default-branch=main lookup bkcache-go-x bkcache-go- >"$work/o4" 2>&1
if grep -q '^hit bkcache-go-feat .* refs/heads/feature' "$work/o1" && grep -q '^hit bkcache-go-main .* refs/heads/main' "$work/o2" &&
   grep -q '^hit bkcache-go-dev .* refs/heads/develop' "$work/o3" && grep -q '^hit bkcache-go-main ' "$work/o4"; then
  ok "branch order: current branch, then PR target (GitHub form 'main'), then the default branch"
else cat "$work/o1" "$work/o2" "$work/o3" "$work/o4" >"$work/err"; bad "branch fallback order" "$work/err"; fi

# ------------------------------------------------------------------- paging
fresh
saved 30 refs/heads/main bkcache-go-old "$work/b.bin"
for id in 31 32 33 34 35 36; do saved $id refs/heads/main "bkcache-rust-$id" "$work/b.bin"; done
pipeline 40 refs/heads/main
before=$(reqs | js "s.length")
drv -o page-size=2 lookup bkcache-go-x bkcache-go- >"$work/out" 2>"$work/err"; rc=$?
pages=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/_apis/build/builds')).length")
tokens=$(reqs | js "s.slice($before).filter(r=>/continuationToken=/.test(r.query)).length")
if [ $rc -eq 0 ] && grep -q '^hit bkcache-go-old ' "$work/out" && [ "$pages" = 4 ] && [ "$tokens" = 3 ]; then
  ok "paging: 4 pages of 2 builds through x-ms-continuationtoken, newest first"
else bad "paging (rc=$rc pages=$pages tokens=$tokens)" "$work/err"; fi
before=$(reqs | js "s.length")
drv -o page-size=2 lookup bkcache-rust-36 >"$work/out" 2>"$work/err"; rc=$?
pages=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/_apis/build/builds')).length")
arts=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/artifacts')).length")
if [ $rc -eq 0 ] && [ "$pages" = 1 ] && [ "$arts" = 1 ]; then
  ok "paging: an exact hit in the newest build stops after one page and one artifact list"
else bad "early stop (rc=$rc pages=$pages artifact lists=$arts)" "$work/err"; fi
before=$(reqs | js "s.length")
drv -o page-size=2 lookup bkcache-rust-x-az40 bkcache-rust- bkcache- >"$work/out" 2>"$work/err"; rc=$?
pages=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/_apis/build/builds')).length")
arts=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/artifacts')).length")
if [ $rc -eq 0 ] && grep -q '^hit bkcache-rust-36 ' "$work/out" && [ "$pages" = 1 ] && [ "$arts" = 1 ]; then
  ok "paging: a match of the first restore key (a run of the key) stops at the newest build holding one"
else bad "early stop on the first restore key (rc=$rc pages=$pages artifact lists=$arts)" "$work/err"; fi
before=$(reqs | js "s.length")
drv -o page-size=2 -o max-builds=3 lookup bkcache-go-x bkcache-go- >"$work/out" 2>"$work/err"; rc=$?
arts=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/artifacts')).length")
if [ $rc -eq 3 ] && [ "$arts" = 3 ]; then # 3 builds on main, none on develop
  ok "paging: max-builds bounds the builds read per branch"
else bad "max-builds (rc=$rc artifact lists=$arts)" "$work/err"; fi
before=$(reqs | js "s.length")
drv -o page-size=2 lookups bkcache-rust-33 bkcache-go-old bkcache-rust-99 >"$work/out" 2>"$work/err"; rc=$?
arts=$(reqs | js "s.slice($before).filter(r=>r.path.endsWith('/artifacts')).length")
if [ $rc -eq 3 ] && [ "$(grep -c '^hit' "$work/out")" = 2 ] && grep -q '^miss bkcache-rust-99' "$work/out" && [ "$arts" = 7 ]; then
  ok "three lookups in one process read each run's artifact list once"
else bad "artifact lists per process (rc=$rc artifact lists=$arts)" "$work/err"; fi
ctl config '{"repeatPages":true}'
if timeout 20 "$AZURE_DRIVER" -o page-size=2 lookup bkcache-go-x bkcache-go- >"$work/out" 2>"$work/err"; [ $? -eq 3 ]; then
  ok "paging: a service that repeats page 1 for every token does not loop"
else bad "repeated pages" "$work/err"; fi
ctl config '{"repeatPages":false}'

# ------------------------------------------------ interrupted upload retried
fresh; pipeline 50 refs/heads/main
ctl faults '[{"method":"PUT","path":"/Containers/","query":"cache.tar.zst","times":1,"action":"reset"},
            {"method":"PUT","path":"/Containers/","times":1,"status":503}]'
drv -o chunk-size=16K upload bkcache-go-r "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
sha=$(state | js "(s.containers['1050'].find(i=>i.path==='bkcache-go-r/cache.tar.zst')||{}).sha256")
if [ $rc -eq 0 ] && [ "$sha" = "$(sha256sum <"$work/b.bin" | cut -d' ' -f1)" ] && grep -q 'retrying' "$work/err"; then
  ok "upload: a cut connection and a 503 on a chunk are retried and the file completes"
else bad "chunk retry (rc=$rc)" "$work/err"; fi
ctl faults '{"method":"PUT","path":"/Containers/","times":4,"status":500}'
DRIVER_RETRY=1 drv -o chunk-size=16K upload bkcache-go-r2 "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
finish 50 refs/heads/main; pipeline 51 refs/heads/main
drv fetch "$work/got" bkcache-go-r2 >/dev/null 2>>"$work/err"; rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$work/got" "$work/b.bin" && grep -q 'driver: retrying' "$work/err" &&
   [ "$(state | js "s.containers['1050'].filter(i=>i.path.startsWith('bkcache-go-r2/')).map(i=>i.path+':'+i.status).join(' ')")" = \
     "bkcache-go-r2/cache.2.tar.zst:created" ]; then
  ok "upload: a failed attempt retried by core writes a fresh file, which restore finds"
else bad "operation retry (rc=$rc rc2=$rc2)" "$work/err"; fi

# -------------------------------------------------------- 401/403/404/429/203
fresh; saved 60 refs/heads/main bkcache-go-a "$work/b.bin"; pipeline 61 refs/heads/main
SYSTEM_ACCESSTOKEN=wrong drv lookup bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 5 ] && grep -q 'HTTP 401' "$work/err" && ! grep -q wrong "$work/err"; then ok "401: denied, token not printed"
else bad "401 (rc=$rc)" "$work/err"; fi
SYSTEM_ACCESSTOKEN=expired-token drv lookup bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 5 ] && grep -q 'sign-in page' "$work/err"; then ok "203 with an HTML sign-in page: denied"
else bad "203 (rc=$rc)" "$work/err"; fi
ctl faults '{"method":"GET","path":"/_apis/build/builds","times":1,"status":403}'
drv lookup bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 5 ] && grep -q 'HTTP 403' "$work/err"; then ok "403: denied"; else bad "403 (rc=$rc)" "$work/err"; fi
SYSTEM_ACCESSTOKEN=reader-token drv upload bkcache-go-ro "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 5 ] && grep -q 'cannot write' "$work/err"; then ok "404 on a container write: reported as no write access"
else bad "404 write (rc=$rc)" "$work/err"; fi
ctl faults '{"method":"GET","path":"/artifacts","times":1,"status":404}'
saved 62 refs/heads/main bkcache-go-b "$work/b.bin"; pipeline 63 refs/heads/main
if drv lookup bkcache-go-a >"$work/out" 2>"$work/err" && grep -q '^hit bkcache-go-a ' "$work/out"; then
  ok "404 on a build's artifacts (deleted run): skipped"; else bad "404 artifacts" "$work/err"; fi
ctl faults '{"method":"GET","path":"/_apis/build/builds","times":1,"status":429,"headers":{"Retry-After":"7","X-RateLimit-Resource":"Core"}}'
drv lookup bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 4 ] && grep -q 'retry_after_ms=7000' "$work/err" && grep -q 'HTTP 429' "$work/err"; then
  ok "429 on a lookup: transient, Retry-After handed to core"
else bad "429 lookup (rc=$rc)" "$work/err"; fi
ctl faults '{"method":"PUT","path":"/Containers/","times":1,"status":429,"headers":{"Retry-After":"1"}}'
start=$(date +%s%N)
drv upload bkcache-go-c "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -eq 0 ] && grep -q 'retrying in 1000 ms' "$work/err"; then ok "429 on a chunk: waits Retry-After, then completes"
else bad "429 chunk (rc=$rc ${ms}ms)" "$work/err"; fi
ctl faults '{"method":"GET","path":"/_apis/build/builds","times":1,"action":"ok-retry-after","retryAfter":1}'
if drv lookup bkcache-go-a >"$work/out" 2>"$work/err"; then ok "200 with Retry-After: honoured, lookup succeeds"
else bad "200 + Retry-After" "$work/err"; fi
env -u SYSTEM_ACCESSTOKEN "$AZURE_DRIVER" lookup bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 5 ] && grep -q "SYSTEM_ACCESSTOKEN: \$(System.AccessToken)" "$work/err" && [ "$(wc -l <"$work/err")" = 1 ]; then
  ok "no token: one line saying how to map System.AccessToken"
else bad "missing token (rc=$rc)" "$work/err"; fi

# ------------------------------------------------------- duplicates, empties
drv upload bkcache-go-c "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 6 ] && grep -q 'already exists' "$work/err"; then ok "same key twice in one run: exists"
else bad "duplicate (rc=$rc)" "$work/err"; fi
drv upload bkcache-go-empty "$work/empty.bin" >"$work/out" 2>"$work/err" && finish 63 refs/heads/main && pipeline 64 refs/heads/main
if drv fetch "$work/got" bkcache-go-empty >"$work/out" 2>>"$work/err" && [ ! -s "$work/got" ]; then
  ok "a zero-byte archive saves and restores"; else bad "zero-byte" "$work/err"; fi

# ----------------------------------------------- downloads: redirect, gzip, cut
ctl config '{"redirectDownloads":true}'
before=$(reqs | js "s.length")
drv fetch "$work/got" bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
blob=$(reqs | js "JSON.stringify(s.slice($before).filter(r=>r.path.startsWith('/_blob/')).map(r=>[r.host.split(':')[0],r.authorization]))")
if [ $rc -eq 0 ] && cmp -s "$work/got" "$work/b.bin" && [ "$blob" = '[["localhost",null]]' ]; then
  ok "download redirected to another host: followed without the Authorization header"
else bad "redirect (rc=$rc $blob)" "$work/err"; fi
ctl config '{"redirectDownloads":false,"gzipDownloads":true}'
if drv fetch "$work/got" bkcache-go-a >"$work/out" 2>"$work/err" && cmp -s "$work/got" "$work/b.bin"; then
  ok "download with Content-Encoding: gzip is decoded"; else bad "gzip download" "$work/err"; fi
ctl config '{"gzipDownloads":false}'
ctl faults '{"method":"GET","path":"/Containers/","query":"OctetStream","times":1,"action":"reset"}'
drv fetch "$work/got" bkcache-go-a >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 4 ]; then ok "download cut mid-body: transient (core retries)"; else bad "cut download (rc=$rc)" "$work/err"; fi

# ------------------------------------------------------------ agent upload
pipeline 70 refs/heads/main
before=$(reqs | js "s.length")
drv -o upload=agent upload 'bkcache-go-ag' "$work/b.bin" >"$work/out" 2>"$work/err"; rc=$?
writes=$(reqs | js "s.slice($before).filter(r=>r.method!=='GET').length")
want="##vso[artifact.upload containerfolder=bkcache-go-ag;artifactname=bkcache-go-ag]$AGENT_TEMPDIRECTORY/bkcache-azure/bkcache-go-ag/cache.tar.zst"
if [ $rc -eq 0 ] && [ "$(cat "$work/out")" = "$want" ] && [ "$writes" = 0 ] &&
   cmp -s "$AGENT_TEMPDIRECTORY/bkcache-azure/bkcache-go-ag/cache.tar.zst" "$work/b.bin"; then
  ok "upload=agent: prints ##vso[artifact.upload] for a kept copy, sends nothing"
else bad "agent upload (rc=$rc writes=$writes)" "$work/out"; fi

# -------------------------------------------------------------------- list
fresh; saved 80 refs/heads/main bkcache-go-l1 "$work/b.bin"; saved 81 refs/heads/develop bkcache-go-l2 "$work/a.bin"
pipeline 82 refs/heads/main
drv list >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^entry bkcache-go-l1 70000 refs/heads/main' "$work/out" &&
   grep -q '^entry bkcache-go-l2 300000 refs/heads/develop' "$work/out"; then
  ok "list: artifacts of the branches in scope with size and branch"
else bad "list (rc=$rc)" "$work/err"; fi

# ------------------------------------------- the CLI and the task
mkdir -p "$work/proj" && cd "$work/proj" || exit 1
printf 'FROM alpine\nRUN --mount=type=cache,id=gomod,target=/go/pkg/mod true\n' >Dockerfile
cd "$root" || exit 1
# save and restore land in other branches; until then their CLI tests are skipped
if "$BKCACHE" restore --provider local --store "$work/nowhere" --dir "$work/nodir" -f "$work/proj/Dockerfile" 2>&1 |
   grep -q 'not implemented'; then
  have_cli=
  echo "skip - cli and task end to end with the real bkcache: save/restore are not built yet"
else
  have_cli=1
  . "$here/cli.sh"
fi
. "$here/task.sh"

echo "azure: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
