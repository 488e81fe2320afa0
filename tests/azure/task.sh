# task.sh - sourced by run.sh: the Azure Pipelines task (azure-tasks/bkcache)
# run as the agent runs it: `node main.js` and `node post.js` with the inputs
# as INPUT_* variables, the job token as the SystemVssConnection endpoint
# parameter, task variables as VSTS_TASKVARIABLE_*, and the logging commands
# read back from stdout. First against a stub binary that records its
# command line (the task's own logic), then with the real bkcache against
# the emulator when save and restore are built.
task_dir="$root/azure-tasks/bkcache"

# A stub bkcache: records argv and the token it got, prints $STUB_OUT, exits $STUB_EXIT.
stub="$work/stub-bkcache"
cat >"$stub" <<'STUB'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done >"$STUB_LOG"
printf 'token=%s\n' "${SYSTEM_ACCESSTOKEN:-}" >>"$STUB_LOG"
[ -n "${STUB_OUT:-}" ] && printf '%s\n' "$STUB_OUT"
exit "${STUB_EXIT:-0}"
STUB
chmod 0644 "$stub"

# run_task ENTRY [VAR=VALUE...]: a clean agent-like environment plus the given variables
run_task() {
  local entry=$1; shift
  env -i PATH="$PATH" HOME="$HOME" AGENT_VERSION=3.248.0 AGENT_TEMPDIRECTORY="$work/agent-temp" \
    TF_BUILD=True SYSTEM_COLLECTIONURI="$E/fabrikam/" SYSTEM_TEAMPROJECT="Fabrikam Fiber" \
    SYSTEM_TEAMPROJECTID=$PID_PROJECT SYSTEM_DEFINITIONID=5 BUILD_BUILDID="${TASK_BUILD:-90}" \
    BUILD_CONTAINERID=$((1000 + ${TASK_BUILD:-90})) BUILD_SOURCEBRANCH=refs/heads/main SYSTEM_JOBID=job \
    ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=test-token \
    INPUT_DOCKERFILE=Dockerfile INPUT_KEYPREFIX=bkcache INPUT_UPLOAD=direct \
    "$@" node "$task_dir/$entry"
}

S="BKCACHE_BINARY=$stub STUB_LOG=$work/stub.log"
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S INPUT_DOCKERFILE=build/Dockerfile INPUT_TARGET=app "INPUT_BUILDARGS=A=1
B=2" INPUT_PLATFORM=linux/arm64 "INPUT_KEYFILES=go.sum
package-lock.json" INPUT_KEYPREFIX=pfx INPUT_MOUNTS=gomod INPUT_BUILDER=ci INPUT_FAILONCACHEMISS=true \
  INPUT_UPLOAD=agent INPUT_CACHEHITVAR=CACHE_RESTORED 'INPUT_ARGUMENTS=--driver buildx' \
  'STUB_OUT={"command":"restore","identities":[{"name":"gomod","hit":"exact"},{"name":"gobuild","hit":"partial"}]}' \
  >"$work/task.out" 2>&1; rc=$?
argv=$(head -n -1 "$work/stub.log" 2>/dev/null | tr '\n' ' ')
want_re='^restore --provider azure -f build/Dockerfile --state .*/agent-temp/bkcache-state-[0-9a-f]{16}\.json --target app --build-arg A=1 --build-arg B=2 --platform linux/arm64 --key-file go.sum --key-file package-lock.json --key-prefix pfx --mount gomod --builder ci --store-opt upload=agent --fail-on-cache-miss --json --driver buildx $'
if [ $rc -eq 0 ] && printf '%s' "$argv" | grep -Eq "$want_re" && grep -q '^token=test-token$' "$work/stub.log" && [ -x "$stub" ]; then
  ok "task main: inputs become bkcache restore options; the token is passed; the binary made executable"
else echo "argv: $argv" >>"$work/task.out"; bad "task main command line (rc=$rc)" "$work/task.out"; fi
if grep -Eq '^##vso\[task.setvariable variable=CACHE_RESTORED;.*\]inexact$' "$work/task.out" &&
   grep -Eq '^##vso\[task.setvariable variable=cacheHit;.*isOutput=true.*\]inexact$' "$work/task.out" &&
   grep -Eq '^##vso\[task.settaskvariable variable=BKCACHE_RESTORE_RAN;.*\]true$' "$work/task.out" &&
   grep -q 'bkcache: cache hit: inexact' "$work/task.out" && ! grep -v '^##vso\[' "$work/task.out" | grep -q 'test-token'; then
  ok "task main: cacheHitVar and the cacheHit output are set (inexact); the token never shows"
else bad "task main variables" "$work/task.out"; fi

# As packaged by package.sh from a release (tests/emulators/release/make-release.sh, the
# stub as bkcache) and unzipped from the VSIX: bin/linux-<arch>/ with modes lost.
rel="$work/release"
printf '#!/bin/sh\necho helper\n' >"$work/stub-helper"
sh "$root/tests/emulators/release/make-release.sh" "$rel" v1.2.3 "$stub" "$work/stub-helper" amd64 arm64
if sh "$root/azure-tasks/package.sh" --release "$rel" --stage-only "$work/pkg" >"$work/pkg.out" 2>&1 &&
   [ -f "$work/pkg/stage/bkcache/bin/linux-amd64/bkcache-helper" ] && [ -f "$work/pkg/stage/bkcache/bin/linux-arm64/bkcache" ] &&
   [ -f "$work/pkg/stage/bkcache/icon.png" ] && [ -f "$work/pkg/stage/vss-extension.json" ] && [ ! -e "$task_dir/bin/linux-arm64" ]; then
  ok "package.sh: both architectures' release binaries staged beside the task, the source tree untouched"
else bad "package.sh staging" "$work/pkg.out"; fi
cp -R "$rel" "$work/release-bad"
printf 'tampered' >>"$work/release-bad/bkcache-v1.2.3-linux-arm64.tar.gz"
if ! sh "$root/azure-tasks/package.sh" --release "$work/release-bad" --stage-only "$work/pkg-bad" >"$work/pkg.out" 2>&1 &&
   grep -q 'bkcache-v1.2.3-linux-arm64.tar.gz does not match SHA256SUMS' "$work/pkg.out"; then
  ok "package.sh: an asset that does not match SHA256SUMS is refused"
else bad "package.sh checksum" "$work/pkg.out"; fi
arch=$(node -p "({x64: 'amd64', arm64: 'arm64'})[process.arch] || 'amd64'")
vsix="$work/pkg/stage/bkcache"
find "$vsix/bin" -type f -exec chmod 0644 {} +
ln -s "$task_dir/node_modules" "$vsix/node_modules"
rm -f "$work/stub.log"
task_dir_saved=$task_dir; task_dir=$vsix
run_task main.js "STUB_LOG=$work/stub.log" >"$work/task.out" 2>&1; rc=$?
task_dir=$task_dir_saved
if [ $rc -eq 0 ] && [ -x "$vsix/bin/linux-$arch/bkcache" ] && [ -x "$vsix/bin/linux-$arch/bkcache-helper" ] &&
   head -1 "$work/stub.log" 2>/dev/null | grep -qx restore; then
  ok "task main: the packed bin/linux-$arch/bkcache, unzipped without its mode, is made executable (and its helper) and run"
else bad "task bundled binary (rc=$rc)" "$work/task.out"; fi
rm -rf "$vsix/bin/linux-$arch"
task_dir=$vsix
run_task main.js "STUB_LOG=$work/stub.log" >"$work/task.out" 2>&1
task_dir=$task_dir_saved
if grep -q "^##vso\[task.complete result=Failed;\]this task was packaged without a linux-$arch build" "$work/task.out"; then
  ok "task main: an architecture the package lacks fails with a message saying so"
else bad "task missing arch" "$work/task.out"; fi

# the layers and layersFrom inputs: --layers and --layers-from for restore; restore --json
# (here after a logging command) carries the build arguments, which the task sets as the
# variable BKCACHE_LAYERS_ARGS and the output layersArgs
# shellcheck disable=SC2086
run_task main.js $S INPUT_LAYERS=true "INPUT_LAYERSFROM=base
deps" 'STUB_OUT=##vso[task.debug]x
{"command":"restore","identities":[],"layers":{"key":"k","hit":"partial","build_args":["--cache-from","type=local,src=/t/from","--cache-to","type=local,dest=/t/to,mode=max"]}}' \
  >"$work/task.out" 2>&1
argv=$(head -n -1 "$work/stub.log" 2>/dev/null | tr '\n' '|')
layers_want='--cache-from type=local,src=/t/from --cache-to type=local,dest=/t/to,mode=max'
if printf '%s' "$argv" | grep -q -- '|--layers|--layers-from|base|--layers-from|deps|--json|$' &&
   grep -Fxq "##vso[task.setvariable variable=BKCACHE_LAYERS_ARGS;isOutput=false;issecret=false;]$layers_want" "$work/task.out" &&
   grep -Eq "^##vso\[task.setvariable variable=layersArgs;.*isOutput=true.*\]$layers_want\$" "$work/task.out"; then
  ok "task main: layers and layersFrom become --layers --layers-from; BKCACHE_LAYERS_ARGS and the layersArgs output are set"
else echo "argv: $argv" >>"$work/task.out"; bad "task main layers inputs" "$work/task.out"; fi
# without them: no --layers, no layer variables (even if the output had a layers object)
# shellcheck disable=SC2086
run_task main.js $S 'STUB_OUT={"identities":[]}' >"$work/task.out" 2>&1
if ! grep -q -- '^--layers' "$work/stub.log" && ! grep -q 'LAYERS_ARGS\|layersArgs' "$work/task.out"; then
  ok "task main: without the layers inputs, no --layers and no layer variables"
else bad "task main no layers" "$work/task.out"; fi
# save (post-job) takes the same inputs; so does run (bkcache build)
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task post.js $S INPUT_LAYERS=true INPUT_LAYERSFROM=base VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true \
  AGENT_JOBSTATUS=Succeeded >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = save ] && tr '\n' '|' <"$work/stub.log" | grep -q -- '|--layers|--layers-from|base|'; then
  ok "task post: save gets --layers --layers-from from the same inputs"
else bad "task post layers" "$work/stub.log"; fi
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S INPUT_LAYERS=true INPUT_LAYERSFROM=base "INPUT_RUN=docker build ." >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = build ] && tr '\n' '|' <"$work/stub.log" | grep -q -- '|--layers|--layers-from|base|--|docker|build|\.|' &&
  ! grep -q 'task.issue type=warning' "$work/task.out"; then
  ok "task main: layers with run go to bkcache build, before the build command"
else bad "task main layers with run" "$work/stub.log"; fi

# the delta input: --delta for the post-job save and for run (bkcache build), never for the
# restore; unset, no --delta (bkcache's default); a bad value fails the main step up front
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S INPUT_DELTA=off 'STUB_OUT={"identities":[]}' >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = restore ] && ! grep -qx -- '--delta' "$work/stub.log"; then
  ok "task main: the delta input does not reach bkcache restore"
else bad "task main delta" "$work/stub.log"; fi
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task post.js $S INPUT_DELTA=off VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true AGENT_JOBSTATUS=Succeeded >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = save ] && head -n -1 "$work/stub.log" | tr '\n' '|' | grep -Eq -- '\|--key-prefix\|bkcache\|--delta\|off\|$'; then
  ok "task post: delta becomes --delta for bkcache save"
else bad "task post delta" "$work/stub.log"; fi
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task post.js $S VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true AGENT_JOBSTATUS=Succeeded >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = save ] && ! grep -qx -- '--delta' "$work/stub.log"; then
  ok "task post: without delta, no --delta (bkcache's default, auto)"
else bad "task post no delta" "$work/stub.log"; fi
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S INPUT_DELTA=auto "INPUT_RUN=docker build ." >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = build ] && tr '\n' '|' <"$work/stub.log" | grep -q -- '|--delta|auto|--|docker|build|\.|'; then
  ok "task main: delta with run goes to bkcache build, before the build command"
else bad "task main delta with run" "$work/stub.log"; fi
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S INPUT_DELTA=of >"$work/task.out" 2>&1
if [ ! -f "$work/stub.log" ] && grep -q "^##vso\[task.complete result=Failed;\]input delta: expected auto or off, got 'of'" "$work/task.out"; then
  ok "task main: a bad delta fails the step before the restore, naming the input"
else bad "task main bad delta" "$work/task.out"; fi

hit_for() { # STUB_OUT -> the cacheHit value the task sets
  # shellcheck disable=SC2086
  run_task main.js $S "STUB_OUT=$1" 2>&1 | sed -n 's/^##vso\[task.setvariable variable=cacheHit;.*\]\(.*\)$/\1/p'
}
h1=$(hit_for '{"identities":[{"name":"a","hit":"exact"},{"name":"b","hit":"exact"}]}')
h2=$(hit_for '{"identities":[{"name":"a","hit":"miss"},{"name":"b","hit":null}]}')
h3=$(hit_for '')
h4=$(hit_for '{"identities":[{"name":"a","hit":"exact"},{"name":"b","hit":"miss"}]}')
h5=$(hit_for '##vso[task.debug]x
{
  "identities": [{"name": "a", "hit": "exact"}]
}
')
if [ "$h1" = true ] && [ "$h2" = false ] && [ "$h3" = false ] && [ "$h4" = inexact ] && [ "$h5" = true ]; then
  ok "task main: cacheHit is true for all exact hits, false for misses and no output"
else bad "task cacheHit values ($h1 $h2 $h3 $h4 $h5)"; fi
# shellcheck disable=SC2086
run_task main.js $S STUB_EXIT=1 >"$work/task.out" 2>&1
if grep -Eq '^##vso\[task.complete result=Failed;\]bkcache restore exited with status 1' "$work/task.out"; then
  ok "task main: a failing bkcache fails the step"; else bad "task main failure" "$work/task.out"; fi

# compose and bake inputs become --compose/--service/--bake/--bake-target
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S "INPUT_COMPOSE=compose.yaml
compose.ci.yaml" INPUT_SERVICES=web INPUT_BAKE=docker-bake.json INPUT_BAKETARGETS=app >"$work/task.out" 2>&1
if tr '\n' ' ' <"$work/stub.log" | grep -q -- '--compose compose.yaml --compose compose.ci.yaml --service web --bake docker-bake.json --bake-target app'; then
  ok "task main: compose, services, bake and bakeTargets reach bkcache"; else bad "task compose/bake inputs" "$work/stub.log"; fi
# run: the whole build under `bkcache build`; the step fails with the build's status
rm -f "$work/stub.log"
# shellcheck disable=SC2086
run_task main.js $S "INPUT_RUN=docker buildx build --build-arg 'A=x y' ." INPUT_SAVEONFAILURE=true STUB_EXIT=3 >"$work/task.out" 2>&1
if [ "$(head -1 "$work/stub.log")" = build ] && grep -qx -- '--save-on-failure' "$work/stub.log" &&
  tr '\n' '|' <"$work/stub.log" | grep -q -- '|--|docker|buildx|build|--build-arg|A=x y|.|' &&
  grep -q 'result=Failed;\]the build exited with status 3' "$work/task.out"; then
  ok "task main: run goes to bkcache build after --, words as the shell splits them, the build's status"
else bad "task run input" "$work/task.out"; fi

post_case() { # EXPECT(called|skipped) NAME VAR=VALUE...
  local expect=$1 name=$2; shift 2
  rm -f "$work/stub.log"
  # shellcheck disable=SC2086
  run_task post.js $S "$@" >"$work/task.out" 2>&1
  local got=skipped; [ -f "$work/stub.log" ] && got=called
  if [ "$got" = "$expect" ] && { [ "$got" = skipped ] || head -1 "$work/stub.log" | grep -qx save; }; then ok "task post: $name"
  else bad "task post: $name (bkcache $got)" "$work/task.out"; fi
}
post_case skipped "no save when the restore step did not run"
post_case skipped "no save after bkcache build saved" VSTS_TASKVARIABLE_BKCACHE_BUILD_RAN=true AGENT_JOBSTATUS=Succeeded
post_case called "saves after exact hits too (bkcache skips what did not change)" VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=true AGENT_JOBSTATUS=Succeeded
post_case skipped "no save when the job failed" VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=false AGENT_JOBSTATUS=Failed
post_case called "saves when the job failed and saveOnFailure is set" VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=false AGENT_JOBSTATUS=Failed INPUT_SAVEONFAILURE=true
post_case called "saves after a successful job" VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=inexact AGENT_JOBSTATUS=SucceededWithIssues
if grep -q 'token=test-token' "$work/stub.log" 2>/dev/null; then ok "task post: the token reaches bkcache save"
else bad "task post token"; fi

# ---- the real bkcache, when save and restore exist on this branch ----
cd "$work/proj" || exit 1
[ -n "$have_cli" ] && . "$here/task_e2e.sh"
cd "$root" || exit 1

# ---- the YAML steps template (no extension): its bash steps, expanded ----
tpl() { # restore|save PARAMS_JSON
  env -i PATH="$PATH" HOME="$HOME" AGENT_TEMPDIRECTORY="$work/tpl-temp" SYSTEM_ACCESSTOKEN=test-token \
    STUB_LOG="$work/stub.log" node "$here/template.js" "$@"
}
rm -rf "$work/tpl-temp"; mkdir -p "$work/tpl-temp"; chmod +x "$stub"
tpl restore "{\"bkcache\":\"$stub\",\"buildArgs\":\"A=1 2\\nB=2\",\"keyFiles\":\"go.sum\",\"target\":\"app\",\"failOnCacheMiss\":true,\"arguments\":\"--driver buildx\"}" >"$work/tpl.out" 2>&1; rc=$?
argv=$(head -n -1 "$work/stub.log" 2>/dev/null | tr '\n' '|')
if [ $rc -eq 0 ] && [ "$argv" = "restore|--provider|azure|-f|Dockerfile|--state|$work/tpl-temp/bkcache-state.json|--target|app|--build-arg|A=1 2|--build-arg|B=2|--key-file|go.sum|--key-prefix|bkcache|--driver|buildx|--fail-on-cache-miss|" ] &&
   grep -q '^token=test-token$' "$work/stub.log"; then
  ok "steps template: restore step builds the same options as the task, with the token mapped"
else echo "argv: $argv" >>"$work/tpl.out"; bad "steps template restore (rc=$rc)" "$work/tpl.out"; fi
tpl save "{\"bkcache\":\"$stub\",\"upload\":\"agent\",\"saveOnFailure\":true}" >"$work/tpl.out" 2>&1; rc=$?
argv=$(head -n -1 "$work/stub.log" 2>/dev/null | tr '\n' '|')
if [ $rc -eq 0 ] && grep -q '^condition: always()$' "$work/tpl.out" &&
   [ "$argv" = "save|--provider|azure|-f|Dockerfile|--state|$work/tpl-temp/bkcache-state.json|--key-prefix|bkcache|--store-opt|upload=agent|" ]; then
  ok "steps template: save step reuses the options; saveOnFailure makes it always()"
else echo "argv: $argv" >>"$work/tpl.out"; bad "steps template save (rc=$rc)" "$work/tpl.out"; fi
rm -rf "$work/tpl-temp"; mkdir -p "$work/tpl-temp"; rm -f "$work/stub.log"
tpl save "{\"bkcache\":\"$stub\"}" >"$work/tpl.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && [ ! -f "$work/stub.log" ] && grep -q 'condition: succeeded()' "$work/tpl.out" && grep -q 'did not run' "$work/tpl.out"; then
  ok "steps template: save is succeeded()-only by default and does nothing without a restore"
else bad "steps template save without restore (rc=$rc)" "$work/tpl.out"; fi
# tpl_both NAME PARAMS_JSON RESTORE_TAIL SAVE_TAIL: the restore, then the save step with the
# same parameters, on a fresh temp; each argv must be the shared options followed by its tail
tpl_both() {
  local name=$1 params=$2 common="--provider|azure|-f|Dockerfile|--state|$work/tpl-temp/bkcache-state.json|--key-prefix|bkcache|"
  local r_argv= s_argv= rc
  rm -rf "$work/tpl-temp"; mkdir -p "$work/tpl-temp"
  tpl restore "$params" >"$work/tpl.out" 2>&1 && r_argv=$(head -n -1 "$work/stub.log" | tr '\n' '|') &&
    tpl save "$params" >>"$work/tpl.out" 2>&1; rc=$?
  s_argv=$(head -n -1 "$work/stub.log" 2>/dev/null | tr '\n' '|')
  if [ $rc -eq 0 ] && [ "$r_argv" = "restore|$common$3" ] && [ "$s_argv" = "save|$common$4" ]; then ok "steps template: $name"
  else echo "argv: $r_argv / $s_argv" >>"$work/tpl.out"; bad "steps template: $name (rc=$rc)" "$work/tpl.out"; fi
}
tpl_both "layers and layersFrom become --layers --layers-from in restore and save" \
  "{\"bkcache\":\"$stub\",\"layers\":true,\"layersFrom\":\"base\\ndeps\"}" \
  "--layers|--layers-from|base|--layers-from|deps|" "--layers|--layers-from|base|--layers-from|deps|"
tpl_both "delta becomes --delta in the save step only" "{\"bkcache\":\"$stub\",\"delta\":\"off\"}" "" "--delta|off|"
rm -rf "$work/tpl-temp"; mkdir -p "$work/tpl-temp"; rm -f "$work/stub.log"
tpl restore "{\"bkcache\":\"$stub\",\"delta\":\"of\"}" >"$work/tpl.out" 2>&1; rc=$?
if [ $rc -eq 2 ] && [ ! -f "$work/stub.log" ] && grep -q "parameter delta: expected auto or off, got 'of'" "$work/tpl.out"; then
  ok "steps template: a bad delta fails the restore step, before bkcache runs"
else bad "steps template bad delta (rc=$rc)" "$work/tpl.out"; fi
