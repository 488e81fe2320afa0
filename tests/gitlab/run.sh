#!/usr/bin/env bash
# run.sh - `make test-gitlab`: the gitlab provider against the loopback
# GitLab emulator, the runner-cache store's size budget, and the CI
# templates (tests/gitlab/templates.sh). Needs $BKCACHE and $GITLAB_DRIVER
# (set by mk/gitlab.mk), node and curl. Prints "gitlab: N passed, N failed"
# last and exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
: "${BKCACHE:=$ROOT/bkcache}" "${GITLAB_DRIVER:=$ROOT/build/tests/gitlab_driver}"
WORK=$(mktemp -d /tmp/bk-gitlab-e2e-XXXXXX)
EMU_PID=""
passed=0 failed=0

cleanup() {
  if [ "$failed" -gt 0 ] && [ -f "$WORK/emu.log" ]; then
    echo "--- emulator log (last lines)"; tail -20 "$WORK/emu.log"
  fi
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
ko() { failed=$((failed + 1)); echo "FAIL - $1"; [ -f "$WORK/err" ] && sed 's/^/       /' "$WORK/err" | head -5; }
# check "description" command...: passes when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else ko "$d"; fi; }

command -v node >/dev/null || { echo "gitlab: node is required"; echo "gitlab: 0 passed, 1 failed"; exit 1; }

# ---- the emulator ----
node tests/emulators/gitlab/server.js --port-file "$WORK/port" >"$WORK/emu.log" 2>&1 &
EMU_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
read -r PORT STORAGE_PORT <"$WORK/port" || { echo "gitlab: the emulator did not start"; cat "$WORK/emu.log"; exit 1; }
EMU=http://127.0.0.1:$PORT

emu() { curl -sf -X POST "$EMU/_emu/$1" -H 'Content-Type: application/json' -d "${2:-{\}}" >/dev/null; }
emu_get() { curl -sf "$EMU/_emu/$1"; }
reset() { emu reset; }

export GITLAB_CI=true CI=true CI_API_V4_URL=$EMU/api/v4 CI_PROJECT_ID=42 CI_PROJECT_PATH=group/app \
  CI_JOB_TOKEN=job-maintainer CI_PROJECT_DIR=$WORK/project CI_COMMIT_REF_NAME=feature/x \
  CI_COMMIT_REF_SLUG=feature-x CI_DEFAULT_BRANCH=main CI_JOB_NAME=build CI_PIPELINE_SOURCE=push
mkdir -p "$CI_PROJECT_DIR"

# drv ARGS: the driver on the packages store; stdout to $WORK/out, stderr to $WORK/err
drv() { "$GITLAB_DRIVER" -o store=packages "$@" >"$WORK/out" 2>"$WORK/err"; }
out_is() { [ "$(cat "$WORK/out")" = "$1" ]; }
err_has() { grep -q -- "$1" "$WORK/err"; }
mkfile() { head -c "$2" /dev/urandom >"$WORK/$1"; }
same() { cmp -s "$WORK/$1" "$WORK/$2"; }
quiet() { "$@" >/dev/null 2>"$WORK/err"; }

# ---- packages store: round trip, prefix restore, misses ----
reset
mkfile a.bin 70000
check "upload a new key" drv upload "$WORK/a.bin" bkcache-go-linux-amd64-aaaa
check "the package is named after the key prefix, the version is the key" \
  bash -c "curl -sf $EMU/_emu/state | grep -q '\"name\":\"bkcache\",\"version\":\"bkcache-go-linux-amd64-aaaa\"'"
check "exact lookup" drv lookup bkcache-go-linux-amd64-aaaa
check "exact download is byte-identical" \
  bash -c "'$GITLAB_DRIVER' -o store=packages download '$WORK/a.out' bkcache-go-linux-amd64-aaaa >/dev/null && cmp -s '$WORK/a.bin' '$WORK/a.out'"
mkfile b.bin 1000
drv upload "$WORK/b.bin" bkcache-go-linux-amd64-bbbb
drv upload "$WORK/b.bin" bkcache-npm-linux-amd64-cccc
drv lookup bkcache-go-linux-amd64-zzzz bkcache-go-linux-amd64-
check "prefix restore picks the newest match" out_is bkcache-go-linux-amd64-bbbb
drv lookup bkcache-go-linux-arm64-zzzz bkcache-go-linux-arm64- bkcache-npm-
check "restore keys are tried in order" out_is bkcache-npm-linux-amd64-cccc
drv lookup bkcache-rust-x-1
check "a miss exits 3 (not found)" test $? -eq 3
check "a miss says not-found" err_has "error not-found"
drv list
check "list shows every key" test "$(sort "$WORK/out" | tr '\n' ' ')" = \
  "bkcache-go-linux-amd64-aaaa bkcache-go-linux-amd64-bbbb bkcache-npm-linux-amd64-cccc "
drv list
check "a listing for anything but ls and prune asks no package files (a save trims runs with it)" \
  bash -c "! curl -sf $EMU/_emu/log | grep -q package_files"
drv sizes
check "list reads each version's archive size from its package files" \
  test "$(sort "$WORK/out" | tr '\n' ' ')" = \
  "bkcache-go-linux-amd64-aaaa 70000 bkcache-go-linux-amd64-bbbb 1000 bkcache-npm-linux-amd64-cccc 1000 "
emu fault '{"match":"/package_files","status":403}'
drv sizes
check "a package-files error leaves the sizes unknown (0) and the listing whole" \
  test "$(sort "$WORK/out" | tr '\n' ' ')" = \
  "bkcache-go-linux-amd64-aaaa 0 bkcache-go-linux-amd64-bbbb 0 bkcache-npm-linux-amd64-cccc 0 "
check "... with one warning naming the request" \
  test "$(grep -c 'list package files: HTTP 403' "$WORK/err")" = 1
emu fault '{"match":"/package_files","status":404}'
drv sizes
check "a version deleted since the list (404) keeps size 0, the others get theirs, no warning" \
  bash -c "test \"\$(grep -c ' 0\$' '$WORK/out')\" = 1 && test \"\$(grep -c ' [1-9][0-9]*\$' '$WORK/out')\" = 2 && ! grep -q 'shown as 0' '$WORK/err'"
drv upload "$WORK/b.bin" bkcache-go-linux-amd64-aaaa # a second file in that version
drv sizes
check "a version with two files shows its newest one's size (the one a download gets)" \
  grep -qx 'bkcache-go-linux-amd64-aaaa 1000' "$WORK/out"
drv -o package=other lookup bkcache-go-linux-amd64-aaaa
check "package= names another package" test $? -eq 3

# odd keys: '..' is not a valid version; stored under a hashed version
mkfile odd.bin 500
check "a key with '..' uploads" drv upload "$WORK/odd.bin" "bkcache-odd..key-1"
check "and downloads by its exact key" \
  bash -c "'$GITLAB_DRIVER' -o store=packages download '$WORK/odd.out' 'bkcache-odd..key-1' >/dev/null && cmp -s '$WORK/odd.bin' '$WORK/odd.out'"

drv lookup bkcache-odd
check "a hashed version never answers an exact lookup of its readable part" test $? -eq 3
drv lookup bkcache-odd-x bkcache-od
check "but matches a restore key within that part" out_is "bkcache-odd*"

# the project path instead of its id; a private token instead of the job token
check "project path works as the project id" \
  quiet env CI_PROJECT_ID= "$GITLAB_DRIVER" -o store=packages lookup bkcache-go-linux-amd64-aaaa
check "PRIVATE-TOKEN from token-env" \
  quiet env CI_JOB_TOKEN= MY_PAT=glpat-maintainer "$GITLAB_DRIVER" -o store=packages -o token-env=MY_PAT \
  lookup bkcache-go-linux-amd64-aaaa

# ---- pagination: more versions than one page holds ----
reset
emu seed "{\"name\":\"bkcache\",\"versions\":[$(seq -f '"bkcache-page-%03g"' -s, 1 105)]}"
drv lookup bkcache-page-x bkcache-page-001
check "prefix match on the second page (X-Next-Page)" out_is bkcache-page-001
drv list
check "list follows pagination" test "$(wc -l <"$WORK/out")" -eq 105
emu settings '{"omitTotals":true}'
drv list
check "pagination without X-Total (over 10,000 results)" test "$(wc -l <"$WORK/out")" -eq 105

# ---- duplicates ----
reset
mkfile d1.bin 300; mkfile d2.bin 300
drv upload "$WORK/d1.bin" bkcache-dup-1
check "a duplicate upload is accepted" drv upload "$WORK/d2.bin" bkcache-dup-1
drv download "$WORK/d.out" bkcache-dup-1
check "the newest duplicate is served" same d2.bin d.out
emu settings '{"allowDuplicates":false}'
drv upload "$WORK/d1.bin" bkcache-dup-1
check "duplicates disallowed: upload fails as exists" err_has "error exists"
check "with GitLab's message" err_has "Duplicate package is not allowed"

# ---- auth ----
reset
check "a reporter's token cannot upload (403, denied)" \
  bash -c "! CI_JOB_TOKEN=job-reporter '$GITLAB_DRIVER' -o store=packages upload '$WORK/d1.bin' k-1 2>'$WORK/err'"
check "403 is reported as denied with the status" bash -c "grep -q 'error denied' '$WORK/err' && grep -q 'HTTP 403' '$WORK/err'"
check "an expired job token is refused (401)" \
  bash -c "! CI_JOB_TOKEN=job-expired '$GITLAB_DRIVER' -o store=packages lookup k-1 2>'$WORK/err' && grep -q 'HTTP 401' '$WORK/err'"
check "the token never appears in messages" bash -c "! grep -q job-expired '$WORK/err'"
emu settings '{"protectedNames":["bkcache"]}'
drv upload "$WORK/d1.bin" bkcache-prot-1
check "a protected package name is denied" err_has "Package protected"
check "no token and not read-only is a config error" \
  bash -c "! CI_JOB_TOKEN= '$GITLAB_DRIVER' -o store=packages list 2>'$WORK/err' && grep -q CI_JOB_TOKEN '$WORK/err'"
emu settings '{"public":true,"protectedNames":[]}'
drv upload "$WORK/d1.bin" bkcache-pub-1
check "a public project is readable without a token (read-only)" \
  quiet env CI_JOB_TOKEN= "$GITLAB_DRIVER" -r -o store=packages lookup bkcache-pub-1

# ---- throttling and faults ----
reset
drv upload "$WORK/d1.bin" bkcache-f-1
emu fault '{"match":"/packages?","status":429,"retryAfter":7}'
drv lookup bkcache-f-2 bkcache-f-
check "429 is transient" err_has "error transient"
check "Retry-After is handed to core's retry loop" err_has "retry-after 7000"
check "and the next attempt succeeds" drv lookup bkcache-f-2 bkcache-f-
emu fault '{"match":"/packages?","status":429,"kind":"noheaders"}'
drv list
check "429 without headers is transient, no delay given" \
  bash -c "grep -q 'error transient' '$WORK/err' && ! grep -q retry-after '$WORK/err'"
emu fault '{"match":"/generic/","method":"PUT","status":502}'
drv upload "$WORK/d1.bin" bkcache-f-3
check "502 with an HTML body on upload is transient" err_has "error transient"
emu fault '{"match":"/generic/","method":"PUT","kind":"reset"}'
mkfile big.bin 3000000
drv upload "$WORK/big.bin" bkcache-f-4
check "a connection cut during upload is transient" err_has "error transient"
drv upload "$WORK/big.bin" bkcache-f-4
emu fault '{"match":"/generic/","method":"GET","kind":"reset"}'
drv download "$WORK/f.out" bkcache-f-4
check "a connection cut during download is transient" err_has "error transient"
drv download "$WORK/f.out" bkcache-f-4
check "the retried download is whole" same big.bin f.out
emu fault '{"match":"/generic/","method":"GET","status":503}'
drv download "$WORK/f.out" bkcache-f-4
check "503 on download is transient" err_has "error transient"

# ---- redirects to object storage, checksums ----
reset
emu settings '{"redirect":true}'
drv upload "$WORK/big.bin" bkcache-r-1
drv download "$WORK/r.out" bkcache-r-1
check "a redirected download arrives whole" same big.bin r.out
check "no GitLab credentials are sent to object storage" \
  bash -c "curl -sf $EMU/_emu/log | node -e 'const l=JSON.parse(require(\"fs\").readFileSync(0));const s=l.filter(x=>x.host===\"storage\");process.exit(s.length>0&&s.every(x=>x.auth.length===0)?0:1)'"
emu settings '{"redirect":false,"corruptChecksum":true}'
drv download "$WORK/r.out" bkcache-r-1
check "an X-Checksum-SHA256 mismatch is corrupt" err_has "error corrupt"

# ---- size limits ----
reset
mkfile two.bin 2048
drv -o max-file-size=1K upload "$WORK/two.bin" bkcache-s-1
check "an archive over max-file-size is skipped" err_has "error skipped"
check "with a message naming the limit" err_has "file limit"
check "and nothing was sent" bash -c "! curl -sf $EMU/_emu/log | grep -q PUT"
emu settings '{"maxFileSize":1000}'
drv -o max-file-size=0 upload "$WORK/two.bin" bkcache-s-2
check "the registry's 'File is too large' is skipped too" \
  bash -c "grep -q 'error skipped' '$WORK/err' && grep -q 'File is too large' '$WORK/err'"

# ---- keep=N, remove, hidden ----
reset
for i in 1 2 3 4; do drv -o keep=2 upload "$WORK/d1.bin" "bkcache-k-$i"; done
drv list
check "keep=2 leaves the two newest versions" test "$(sort "$WORK/out" | tr '\n' ' ')" = "bkcache-k-3 bkcache-k-4 "
CI_JOB_TOKEN=job-developer "$GITLAB_DRIVER" -o store=packages -o keep=1 upload "$WORK/d1.bin" bkcache-k-5 \
  >"$WORK/out" 2>"$WORK/err"
check "a token that may not delete still saves" test $? -eq 0
check "and warns that old versions stay" err_has "may not delete"
check "remove deletes a version" drv remove bkcache-k-3
drv lookup bkcache-k-3
check "a removed version is gone" test $? -eq 3
drv -o status=hidden upload "$WORK/d1.bin" bkcache-h-1
check "a hidden package is found with status=hidden" drv -o status=hidden lookup bkcache-h-1
check "hidden packages stay out of the default listing" \
  bash -c "! curl -sf '$EMU/api/v4/projects/42/packages?package_type=generic' -H 'JOB-TOKEN: job-maintainer' | grep -q bkcache-h-1"

# ---- runner-cache store: size budget ----
RUNNER=(-o store=runner -o max-size=250K)
rdrv() { "$GITLAB_DRIVER" "${RUNNER[@]}" "$@" >"$WORK/out" 2>"$WORK/err"; }
mkfile r100.bin 102400
rdrv upload "$WORK/r100.bin" bkcache-r-a
rdrv upload "$WORK/r100.bin" bkcache-r-b
check "the runner store lives in \$CI_PROJECT_DIR/.bkcache" test -n "$(find "$CI_PROJECT_DIR/.bkcache" -name '*.tar.zst')"
sleep 1.1 # last_used has one-second resolution
rdrv download "$WORK/r.out" bkcache-r-a
check "runner store download" same r100.bin r.out
rdrv upload "$WORK/r100.bin" bkcache-r-c
rdrv list
check "over max-size the least recently used entry is evicted" \
  test "$(sort "$WORK/out" | tr '\n' ' ')" = "bkcache-r-a bkcache-r-c "
mkfile r300.bin 307200
rdrv upload "$WORK/r300.bin" bkcache-r-d
check "an archive larger than the whole budget is skipped" err_has "error skipped"

# ---- the CLI: auto-detection, ls and prune on the package store ----
reset
mkdir -p "$WORK/cli/src/gomod" && cp tests/gitlab/fixtures/Dockerfile "$WORK/cli/" && echo hi >"$WORK/cli/src/gomod/f"
bk() { (cd "$WORK/cli" && "$BKCACHE" "$@") >"$WORK/out" 2>"$WORK/err"; }
bk plan --dir src
check "GITLAB_CI=true selects the gitlab provider" grep -q '^provider: gitlab' "$WORK/out"
if bk save --dir src --store-opt store=packages && grep -q 'gomod: saved' "$WORK/out"; then
  check "a save (which lists to trim older runs) asks no package files" \
    bash -c "! curl -sf $EMU/_emu/log | grep -q package_files"
  bk ls --store-opt store=packages --json
  check "bkcache ls lists the package versions" grep -q '"key":.*bkcache-gomod-linux-' "$WORK/out"
  check "bkcache ls shows the archive's size (no more 0 for this store)" grep -Eq '"size":[[:space:]]*[1-9]' "$WORK/out"
  bk prune --store-opt store=packages --keep 0
  bk ls --store-opt store=packages
  check "bkcache prune --keep 0 deletes them" bash -c "! grep -q bkcache-gomod '$WORK/out'"
else
  echo "skip - CLI save/ls/prune: bkcache save does not work in this build ($(head -1 "$WORK/err"))"
fi

# ---- caches that keep learning: runs of one key (tests/learning/scenario.sh) ----
reset
. tests/learning/scenario.sh
learn() { learning_scenario "$WORK/learn-$1" 1 --provider gitlab --store-opt "store=$1" 2>"$WORK/err"; }
check "packages store keeps learning: runs of one key" learn packages
check "runner cache keeps learning: runs of one key" learn runner
learn_pipeline_key() { CI_PIPELINE_ID=7 CI_JOB_ID=70 "$BKCACHE" key -f "$WORK/cli/Dockerfile" >"$WORK/out" &&
  grep -q 'saves: .*-gl7\.70$' "$WORK/out" && grep -q 'from CI_PIPELINE_ID, CI_JOB_ID' "$WORK/out"; }
check "a pipeline's job saves <key>-gl<pipeline>.<job>" learn_pipeline_key

# ---- the layer cache (--layers) on both stores: tests/layers/cases.sh ----
# (both with keep=1: the budget drops old indexes, never a blob)
for st in packages runner; do
  reset
  budget=(--store-opt keep=1)
  (cd "$WORK" && LAYERS_WORK=$WORK/layers-$st BKCACHE=$BKCACHE \
    bash "$ROOT/tests/layers/run_cases.sh" --provider gitlab --store-opt store=$st "${budget[@]}") >"$WORK/layers.out" 2>&1
  lrc=$?
  grep -v '^ok ' "$WORK/layers.out" | sed 's/^/    /'
  check "layers on the $st store: round trip, dedup after a one-line change, --layers-from" test "$lrc" -eq 0
done

# ---- delta saves (issue 20) on both stores: tests/delta/cases.sh ----
for st in runner packages; do
  reset
  (cd "$WORK" && DELTA_WORK=$WORK/delta-$st DELTA_GL_STORE=$st DELTA_HOOKS=$ROOT/tests/gitlab/delta_hooks.sh \
    EMU=$EMU GITLAB_DRIVER=$GITLAB_DRIVER BKCACHE=$BKCACHE bash "$ROOT/tests/delta/run_cases.sh") >"$WORK/delta.out" 2>&1
  drc=$?
  grep -v '^ok ' "$WORK/delta.out" | sed 's/^/    /'
  check "delta saves on the $st store: a small delta blob, layered restore, fallback, no partial tree" test "$drc" -eq 0
done

# ---- the CI templates ----
if [ -x tests/gitlab/templates.sh ] || [ -f tests/gitlab/templates.sh ]; then
  tpl_out=$(EMU="$EMU" WORK="$WORK" bash tests/gitlab/templates.sh)
  tpl_rc=$?
  printf '%s\n' "$tpl_out" | grep -v '^templates:'
  tp=$(printf '%s\n' "$tpl_out" | sed -n 's/^templates: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
  tf=$(printf '%s\n' "$tpl_out" | sed -n 's/^templates: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
  passed=$((passed + ${tp:-0})); failed=$((failed + ${tf:-0}))
  [ "$tpl_rc" -ne 0 ] && [ "${tf:-0}" -eq 0 ] && { failed=$((failed + 1)); echo "FAIL - templates.sh exited $tpl_rc"; }
fi

echo "gitlab: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
