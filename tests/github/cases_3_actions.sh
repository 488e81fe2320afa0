# cases_3_actions.sh - the JavaScript actions run the way the runner runs them (runner-sim.js:
# INPUT_* variables, GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV / GITHUB_PATH /
# GITHUB_STEP_SUMMARY files, the post step with its state). The wrapper mechanics are checked
# with fake-bkcache.sh standing in for the binary; e2e_actions.sh (from cases_4_cli.sh) runs
# them with the real binary against the emulator (sourced by run.sh).
# shellcheck shell=bash

# restore: inputs become options, credentials reach the binary, outputs and summary
fresh
CMAP='{"/tmp/go-build":{"target":"/root/.cache/go-build","id":"go-build"},"/tmp/apt":"/var/cache/apt"}'
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" dockerfile=build/Dockerfile \
  target=app "build-args=GO_VERSION=1.22
DEBUG=0" "key-files=go.sum" "cache-map=$CMAP" key-prefix=ci >"$WORK/step/result.json" 2>&1
check "restore action exits 0" test "$(json_get exit <"$WORK/step/result.json")" = 0
check "restore action passes the inputs as options" grep -qF -- \
  "argv: restore --file build/Dockerfile --target app --build-arg GO_VERSION=1.22 --build-arg DEBUG=0 --key-prefix ci --provider github --key-file go.sum --mount go-build --mount var-cache-apt-12233602 --state " "$FAKE_LOG"
check "cache-map targets are resolved to mount names with 'bkcache mounts'" grep -qF -- \
  "argv: mounts --file build/Dockerfile --target app --build-arg GO_VERSION=1.22 --build-arg DEBUG=0 --json" "$FAKE_LOG"
check "restore action asks for --json" grep -q -- "--json$" "$FAKE_LOG"
check "runtime credentials reach the binary through the environment" \
  bash -c "grep -q 'env: token' $FAKE_LOG && grep -q 'env: results-url' $FAKE_LOG && ! grep -qF '$MAIN_TOKEN' $FAKE_LOG"
check "the token is masked with ::add-mask::" grep -qF "::add-mask::$MAIN_TOKEN" "$WORK/step/main.log"
check "the run is in a log group" grep -q "^::group::bkcache restore" "$WORK/step/main.log"
check "cache-hit is false when one mount is a partial hit" \
  test "$(json_get outputs.cache-hit <"$WORK/step/result.json")" = false
check "matched-keys is a JSON map of mount to key" \
  test "$(json_get outputs.matched-keys <"$WORK/step/result.json")" = '{"go-build":"bk-go-build-1a2b","apt":"bk-apt-0000"}'
check "job summary has the per-mount table" bash -c "grep -q '^| Cache | Key | Result | Size | Time |' $WORK/step/summary.md && grep -qF '| go-build | \`bk-go-build-1a2b\` | exact hit | 50.0 MiB | 2.4 s |' $WORK/step/summary.md && grep -qF 'partial hit (\`bk-apt-0000\`)' $WORK/step/summary.md"
cp "$WORK/step/summary.md" "$WORK/summary-restore.md"

fresh
FAKE_REAL_MOUNTS=$BKCACHE BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" \
  dockerfile="$ROOT/examples/Dockerfile" \
  'cache-map={"/tmp/a":"/root/.cache/go-build","/tmp/b":{"id":"npm","target":"/home/node/.npm"}}' \
  >/dev/null 2>&1
check "cache-map resolves against the real Dockerfile's mounts" grep -q -- \
  "--mount root-.cache-go-build-f0d2735e --mount npm-2d39a229 " "$FAKE_LOG"

fresh
FAKE_HITS=exact BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" \
  lookup-only=true fail-on-cache-miss=true >"$WORK/step/result.json" 2>&1
check "cache-hit is true when every mount hit exactly" \
  test "$(json_get outputs.cache-hit <"$WORK/step/result.json")" = true
check "lookup-only and fail-on-cache-miss become options" \
  grep -q -- "--lookup-only --fail-on-cache-miss" "$FAKE_LOG"

fresh
FAKE_EXIT=1 BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" >"$WORK/step/result.json" 2>&1
code=$(json_get exit <"$WORK/step/result.json")
check "a failing bkcache fails the step with ::error::" bash -c \
  "[ $code = 1 ] && grep -q '^::error::bkcache restore exited with status 1' $WORK/step/main.log"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" 'cache-map={"a":' >"$WORK/step/result.json" 2>&1
check "bad cache-map JSON fails the step naming the input" bash -c \
  "grep -q '^::error::cache-map: not valid JSON' $WORK/step/main.log && ! grep -q 'argv: restore' $FAKE_LOG"

# compose and bake inputs; the build action runs `run` under bkcache build
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/restore" main "$WORK/step" "compose=compose.yaml
compose.ci.yaml" services=web bake=docker-bake.json bake-targets=app >/dev/null 2>&1
check "compose and bake inputs become --compose, --service, --bake and --bake-target" grep -qF -- \
  "--compose compose.yaml --compose compose.ci.yaml --service web --bake docker-bake.json --bake-target app" "$FAKE_LOG"
fresh
FAKE_EXIT=3 BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/build" main "$WORK/step" \
  "run=docker buildx build --build-arg 'A=x y' ." save-on-failure=true key-prefix=ci >"$WORK/step/result.json" 2>&1
code=$(json_get exit <"$WORK/step/result.json")
check "build action: run follows 'bkcache build OPTIONS --', split as a shell splits it" grep -qE -- \
  "^argv: build --key-prefix ci --provider github --state .* --save-on-failure -- docker buildx build --build-arg A=x y \\.$" "$FAKE_LOG"
check "build action: the step fails with the build's status" bash -c \
  "[ $code = 1 ] && grep -q '^::error::the build exited with status 3' $WORK/step/main.log"

fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/build" main "$WORK/step" "run=docker build ." layers=true \
  "layers-from=base
deps" delta=off >/dev/null 2>&1
check "build action: layers, layers-from and delta become --layers --layers-from --delta, before --" grep -qE -- \
  "^argv: build --provider github --layers --layers-from base --layers-from deps --delta off --state .* -- docker build \\.$" "$FAKE_LOG"

# delta (save-only): --delta for save, never for restore; unset, the binary's default applies
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/save" main "$WORK/step" delta=off key-prefix=ci >/dev/null 2>&1
check "save action: delta becomes --delta before --state" grep -qE -- \
  "^argv: save --file Dockerfile --key-prefix ci --provider github --delta off --state [^ ]+ --json$" "$FAKE_LOG"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/save" main "$WORK/step" key-prefix=ci >/dev/null 2>&1
check "save action: without delta, no --delta (bkcache's default, auto)" bash -c \
  "grep -q '^argv: save ' $FAKE_LOG && ! grep -q -- '--delta' $FAKE_LOG"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step" delta=auto >/dev/null 2>&1
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step" delta=auto >/dev/null 2>&1
check "cache-mounts: delta reaches the post step's save, not the restore" bash -c \
  "grep -qE '^argv: save .* --delta auto --state [^ ]+ --json$' $FAKE_LOG && grep -q '^argv: restore ' $FAKE_LOG && ! grep -q '^argv: restore .*--delta' $FAKE_LOG"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step" delta=of >/dev/null 2>&1
check "cache-mounts: a bad delta fails the main step before the restore, naming the input" bash -c \
  "grep -q \"^::error::input delta: expected auto or off, got 'of'\" $WORK/step/main.log && ! grep -q '^argv: restore' $FAKE_LOG"

# cache-mounts: restore in main, save in post with the same options and state file
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step" mounts=go-build \
  save-on-failure=true >"$WORK/step/main.json" 2>&1
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step" mounts=go-build \
  save-on-failure=true >"$WORK/step/post.json" 2>&1
check "cache-mounts main restores, post saves" bash -c \
  "grep -q '^argv: restore ' $FAKE_LOG && grep -q '^argv: save ' $FAKE_LOG"
check "post saves with the main step's options and state file" bash -c \
  "r=\$(sed -n 's/^argv: restore //p' $FAKE_LOG); s=\$(sed -n 's/^argv: save //p' $FAKE_LOG); [ \"\$r\" = \"\$s\" ]"
check "save-on-failure is kept in the step's own state, not exported to later steps" bash -c \
  "[ \"\$(json_get state.save-on-failure <$WORK/step/main.json)\" = true ] && [ ! -s $WORK/step/env.txt ]"
check "post step adds the save table to the summary" grep -q "^### bkcache save" "$WORK/step/summary.md"
cp "$WORK/step/summary.md" "$WORK/summary-cache-mounts.md"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step" lookup-only=true >/dev/null 2>&1
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step" lookup-only=true >/dev/null 2>&1
check "cache-mounts with lookup-only does not save" bash -c "! grep -q '^argv: save' $FAKE_LOG"

# after a failed job: only the use that set save-on-failure saves (two uses in one job)
fresh
mkdir -p "$WORK/step/a" "$WORK/step/b"
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step/a" mounts=a save-on-failure=true >/dev/null 2>&1
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step/b" mounts=b >/dev/null 2>&1
SIM_JOB_STATUS=failure BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step/b" mounts=b >/dev/null 2>&1
SIM_JOB_STATUS=failure BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step/a" mounts=a save-on-failure=true >/dev/null 2>&1
check "failed job: the use with save-on-failure saves, the other use does not" bash -c \
  "grep -q '^argv: save .*--mount a ' $FAKE_LOG && ! grep -q '^argv: save .*--mount b ' $FAKE_LOG && grep -q 'job status is failure; not saving' $WORK/step/b/post.log"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" main "$WORK/step" save-on-failure=true >/dev/null 2>&1
SIM_JOB_STATUS=cancelled BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/cache-mounts" post "$WORK/step" save-on-failure=true >/dev/null 2>&1
check "a cancelled job is not saved, even with save-on-failure" bash -c \
  "! grep -q '^argv: save' $FAKE_LOG && grep -q 'cancelled; not saving' $WORK/step/post.log"

# the binary: from PATH, else this checkout's build, whose directory goes to GITHUB_PATH
fresh
mkdir -p "$WORK/bin" && cp "$HERE/fake-bkcache.sh" "$WORK/bin/bkcache"
env -u BKCACHE_BIN PATH="$WORK/bin:$PATH" $SIM "$A/save" main "$WORK/step" >/dev/null 2>&1
check "save action finds bkcache on PATH" grep -q "^argv: save " "$FAKE_LOG"
fresh
env -u BKCACHE_BIN PATH="/usr/bin:/bin" $SIM "$A/save" main "$WORK/step" >/dev/null 2>&1
check "without one on PATH it uses the checkout's build and exports its directory" \
  grep -qx "$ROOT" "$WORK/step/path.txt"
