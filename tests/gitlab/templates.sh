#!/usr/bin/env bash
# templates.sh - the GitLab templates (gitlab/), run from tests/gitlab/run.sh
# with the emulator up ($EMU, $WORK and the CI_* variables set by run.sh).
#
#  1. the YAML: parsed with a real YAML parser (tests/gitlab/templates.js,
#     `yaml` from npm) and checked for GitLab's rules; the generated component
#     is current; every job's script is valid POSIX sh;
#  2. the snippets run as a runner runs them: each job of
#     tests/gitlab/fixtures/pipeline.gitlab-ci.yml is turned into a script
#     (variables, before_script, script; !reference and extends resolved)
#     and run with `sh -e` (alpine images) or `bash -eo pipefail` in a fresh
#     project directory with the predefined CI_* variables, against the
#     emulator; the runner cache is emulated by copying .bkcache/ from one
#     job's directory to the next.
# Prints "templates: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
: "${BKCACHE:=$ROOT/bkcache}" "${WORK:=$(mktemp -d)}" "${EMU:?run me from tests/gitlab/run.sh}"
T=$WORK/templates
mkdir -p "$T"
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
ko() { failed=$((failed + 1)); echo "FAIL - $1"; [ -f "$T/log" ] && tail -15 "$T/log" | sed 's/^/       /'; }
skip() { skipped=$((skipped + 1)); echo "skip - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else ko "$d"; fi; }

# ---- npm deps: the yaml parser (skipped when node_modules is current) ----
nm=tests/gitlab/node_modules/.package-lock.json
if [ ! -f "$nm" ] || [ tests/gitlab/package-lock.json -nt "$nm" ]; then
  (cd tests/gitlab && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "FAIL - npm ci in tests/gitlab"; echo "templates: $passed passed, $((failed + 1)) failed"; exit 1; }
fi

# ---- 1. the YAML ----
node tests/gitlab/templates.js check >"$T/check" 2>&1
cat "$T/check"
passed=$((passed + $(grep -c '^ok' "$T/check"))); failed=$((failed + $(grep -c '^FAIL' "$T/check")))
grep -q '^ok' "$T/check" || ko "templates.js check ran"
check "the component is generated from the classic template (build-component.sh --check)" \
  sh gitlab/build-component.sh --check

PIPE=tests/gitlab/fixtures/pipeline.gitlab-ci.yml
script_of() { node tests/gitlab/templates.js script "$@"; }
syntax_ok=1
for job in runner-job packages-job install-only; do
  script_of "$PIPE" "$job" >"$T/$job.sh" 2>"$T/log" && sh -n "$T/$job.sh" 2>>"$T/log" || syntax_ok=0
done
for driver in buildx buildctl; do
  script_of gitlab/templates/bkcache.yml bkcache-build driver=$driver >"$T/c-$driver.sh" 2>"$T/log" &&
    sh -n "$T/c-$driver.sh" 2>>"$T/log" || syntax_ok=0
done
check "every job script is valid POSIX sh (dash -n)" test $syntax_ok = 1

# ---- 2. the snippets, run as a runner runs them ----
JOB_ID=100
# run_job SHELL JOB DIR [VAR=VALUE...]: run JOB's script in project DIR; log in $T/log
run_job() {
  local sh=$1 job=$2 dir=$3
  shift 3
  JOB_ID=$((JOB_ID + 1))
  mkdir -p "$dir/tmp"
  cp tests/gitlab/fixtures/Dockerfile "$dir/Dockerfile"
  script_of "$PIPE" "$job" >"$dir/job.sh" || return 1
  local flags=(-e)
  [ "$sh" = bash ] && flags=(-eo pipefail)
  (cd "$dir" && env CI_PROJECT_DIR="$dir" CI_BUILDS_DIR="$(dirname "$dir")" CI_JOB_ID=$JOB_ID \
    CI_JOB_NAME="$job" CI_JOB_STAGE=build CI_COMMIT_SHORT_SHA=0123abcd TMPDIR="$dir/tmp" \
    CI_SERVER_FQDN=127.0.0.1 BKCACHE_RETRIES=0 "$@" "$sh" "${flags[@]}" job.sh) >"$T/log" 2>&1
}
env_has() { grep -qx "$2" "$1/bkcache.env"; }
restored() { [ -n "$(find "$1/cache" -name "artifact-$2" 2>/dev/null)" ]; }

BIN_DIR=$(dirname "$BKCACHE")
export PATH="$BIN_DIR:$PATH"

# ---- installing the binary (the .bkcache-install snippet) ----
# An Alpine-like job: busybox's sh, wget, sha256sum, tar and awk only (no curl, no bash).
BB=$T/busybox
mkdir -p "$BB"
for a in $(busybox --list); do ln -sf "$(command -v busybox)" "$BB/$a"; done
# A release (tests/emulators/release/make-release.sh) on a loopback release host that
# redirects like the real one; v6.6.6's asset does not match its SHA256SUMS; v7.0.0 has none.
REL=$T/rel/files
mkdir -p "$REL"
sh tests/emulators/release/make-release.sh "$REL/v1.2.3" v1.2.3 "$BKCACHE" "$BKCACHE"
sh tests/emulators/release/make-release.sh "$REL/v6.6.6" v6.6.6 "$BKCACHE" "$BKCACHE"
printf x >>"$REL/v6.6.6/bkcache-v6.6.6-linux-amd64.tar.gz"
node tests/emulators/release/server.js "$REL" >"$T/rel/server.log" 2>&1 &
REL_PID=$!
trap 'kill $REL_PID 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q listening "$T/rel/server.log" && break; sleep 0.1; done
REL_URL=http://127.0.0.1:$(sed -n 's/release host listening on //p' "$T/rel/server.log")
installed() { [ -x "$1/.bkcache-bin/bkcache" ] && [ -x "$1/.bkcache-bin/bkcache-helper" ] && grep -q "installed $1/.bkcache-bin/bkcache" "$T/log"; }
export -f installed; export T

mkdir -p "$T/inst1"
run_job sh install-only "$T/inst1" BKCACHE_BIN=bkcache-not-installed
check "install: no binary, no BKCACHE_VERSION and no image fails the job" test $? -ne 0
check "install: with a message saying what to set" grep -q "set BKCACHE_VERSION (a release to download) or BKCACHE_BINARY_IMAGE" "$T/log"

# the release mirrored in the project's generic package registry: busybox wget with the job token
for f in bkcache-v1.2.3-linux-amd64.tar.gz SHA256SUMS; do
  curl -sf -X PUT -H "JOB-TOKEN: job-maintainer" --upload-file "$REL/v1.2.3/$f" \
    "$CI_API_V4_URL/projects/42/packages/generic/bkcache-release/v1.2.3/$f" >/dev/null
done
mkdir -p "$T/inst2"
run_job "$BB/sh" install-only "$T/inst2" PATH="$BB" BKCACHE_BIN=bkcache-not-installed BKCACHE_VERSION=v1.2.3 \
  BKCACHE_RELEASE_URL="$CI_API_V4_URL/projects/42/packages/generic/bkcache-release/v1.2.3"
check "install (busybox sh + wget): the release from the package registry with the job token, checksum verified" \
  bash -c "installed '$T/inst2' && grep -q 'installed release v1.2.3 (amd64)' '$T/log' && grep -q '^bkcache ' '$T/log'"
mkdir -p "$T/inst3"
run_job "$BB/sh" install-only "$T/inst3" PATH="$BB" BKCACHE_BIN=bkcache-not-installed BKCACHE_VERSION=v1.2.3 \
  BKCACHE_RELEASE_URL="$REL_URL/v1.2.3/"
check "install (busybox): from a release host that redirects" installed "$T/inst3"
mkdir -p "$T/inst4"
run_job bash install-only "$T/inst4" BKCACHE_BIN=bkcache-not-installed BKCACHE_VERSION=v1.2.3 \
  BKCACHE_RELEASE_URL="$REL_URL/v1.2.3"
check "install (bash + curl): the same release" installed "$T/inst4"
mkdir -p "$T/inst5"
run_job "$BB/sh" install-only "$T/inst5" PATH="$BB" BKCACHE_BIN=bkcache-not-installed BKCACHE_VERSION=v6.6.6 \
  BKCACHE_RELEASE_URL="$REL_URL/v6.6.6"
check "install: a checksum mismatch fails the job, nothing installed" bash -c \
  "[ $? -ne 0 ] && grep -q 'checksum mismatch for .*bkcache-v6.6.6-linux-amd64.tar.gz.*refusing to run it' '$T/log' && [ ! -e '$T/inst5/.bkcache-bin/bkcache' ]"
mkdir -p "$T/inst6"
run_job "$BB/sh" restore-save "$T/inst6" PATH="$BB" BKCACHE_BIN=bkcache-not-installed BKCACHE_VERSION=v7.0.0 \
  BKCACHE_RELEASE_URL="$REL_URL/v7.0.0"
check "install: a missing asset warns and the job runs on without caches (restore/save skipped)" bash -c \
  "[ $? -eq 0 ] && grep -q 'WARNING: cannot download bkcache-v7.0.0-linux-amd64.tar.gz' '$T/log' && grep -qx BKCACHE_RESTORE=skipped '$T/inst6/bkcache.env' && grep -qx BKCACHE_SAVE=skipped '$T/inst6/bkcache.env'"

# the bkcache image: docker create + docker cp (a stand-in docker that serves an image's files)
mkdir -p "$T/fakedocker" "$T/image-root"
cp "$BKCACHE" "$T/image-root/bkcache" && cp "$BKCACHE" "$T/image-root/bkcache-helper"
cat >"$T/fakedocker/docker" <<FAKE
#!/bin/sh
echo "docker \$*" >>"$T/docker.log"
case \$1 in
create) echo cid-1 ;;
cp) cp "$T/image-root/\${2#cid-1:/}" "\$3" ;;
rm) ;;
esac
FAKE
chmod +x "$T/fakedocker/docker"
mkdir -p "$T/inst7"
run_job "$BB/sh" install-only "$T/inst7" PATH="$T/fakedocker:$BB" BKCACHE_BIN=bkcache-not-installed \
  BKCACHE_BINARY_IMAGE=bkcache:v1.2.3
check "install: BKCACHE_BINARY_IMAGE copies both binaries out of the image and removes the container" bash -c \
  "installed '$T/inst7' && grep -qx 'docker create bkcache:v1.2.3 /bkcache' '$T/docker.log' && grep -qx 'docker rm cid-1' '$T/docker.log'"

# probe: save/restore in directory mode need the planner and the archive code
mkdir -p "$T/probe/cache/x"
if ! (cd "$T/probe" && cp "$ROOT/tests/gitlab/fixtures/Dockerfile" . &&
  "$BKCACHE" restore --provider local --store "$T/probe/store" --dir cache >/dev/null 2>"$T/probe.err" &&
  "$BKCACHE" mounts --json >/dev/null 2>>"$T/probe.err"); then
  skip "runner emulation: bkcache restore/mounts do not work in this build yet ($(head -1 "$T/probe.err"))"
  echo "templates: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit
fi

# runner store: job 1 misses and saves; the runner carries .bkcache/; job 2 hits
run_job sh runner-job "$T/r1"
check "runner store, job 1 (sh): succeeds" test $? -eq 0
check "job 1: the dotenv report says miss, restore ok, save ok" \
  bash -c "grep -qx BKCACHE_CACHE_HIT=false '$T/r1/bkcache.env' && grep -qx BKCACHE_RESTORE=ok '$T/r1/bkcache.env' && grep -qx BKCACHE_SAVE=ok '$T/r1/bkcache.env'"
check "job 1: the archives are in \$CI_PROJECT_DIR/.bkcache" test -n "$(find "$T/r1/.bkcache" -name '*.tar.zst' 2>/dev/null)"
check "job 1: collapsible log sections" bash -c "grep -q 'section_start:[0-9]*:bkcache_restore\[collapsed=true\]' '$T/log' && grep -q 'section_end:[0-9]*:bkcache_save' '$T/log'"
r1_job=$JOB_ID
mkdir -p "$T/r2" && cp -a "$T/r1/.bkcache" "$T/r2/.bkcache" # what cache: paths does
run_job bash runner-job "$T/r2"
check "runner store, job 2 (bash): succeeds" test $? -eq 0
check "job 2: exact hit in the dotenv report" env_has "$T/r2" BKCACHE_CACHE_HIT=true
check "job 2: job 1's cache contents were restored" restored "$T/r2" "$r1_job"

# package registry: no runner cache carried; job 4 still hits
run_job sh packages-job "$T/p1"
check "packages store, job 1 (sh): succeeds" test $? -eq 0
p1_job=$JOB_ID
check "packages job 1: saved to the registry" \
  bash -c "grep -qx BKCACHE_SAVE=ok '$T/p1/bkcache.env' && curl -sf '$EMU/_emu/state' | grep -q '\"name\":\"bkcache\"'"
check "packages job 1: nothing in the runner cache directory" test -z "$(find "$T/p1/.bkcache" -name '*.tar.zst' 2>/dev/null)"
run_job bash packages-job "$T/p2"
check "packages store, job 2 (bash): exact hit from the registry" env_has "$T/p2" BKCACHE_CACHE_HIT=true
check "packages job 2: job 1's cache contents were restored" restored "$T/p2" "$p1_job"

# a store outage does not fail the build; bad options do
run_job sh packages-job "$T/p3" CI_JOB_TOKEN=job-expired
check "an expired job token: the job still succeeds" test $? -eq 0
check "an expired job token: the log says why" grep -q "401" "$T/log"
run_job sh runner-job "$T/r3" BKCACHE_ARGS="--dir cache --no-such-option"
check "a bad bkcache option fails the job" test $? -ne 0
check "and the dotenv report records the failed restore" env_has "$T/r3" BKCACHE_RESTORE=failed

# BKCACHE_RUN: the build under `bkcache build`, its status the job's
mkdir -p "$T/fakebuild"
cat >"$T/fakebuild/docker" <<'FAKE'
#!/bin/sh
# stands in for `docker build`: fills the build's cache mounts, exits $FAKE_STATUS
echo "fake docker: $*"
for n in $("$BKCACHE_BIN" mounts -f Dockerfile --json | sed -n 's/.*"name":[[:space:]]*"\([^"]*\)".*/\1/p' | sort -u); do
  mkdir -p "cache/$n" && echo "built by job $CI_JOB_ID" >"cache/$n/artifact-$CI_JOB_ID"
done
exit "${FAKE_STATUS:-0}"
FAKE
chmod +x "$T/fakebuild/docker"
run_job sh build-job "$T/b1" BKCACHE_RUN="$T/fakebuild/docker build --build-arg 'A=x y' ."
check "BKCACHE_RUN: the build runs under bkcache build and ends the script" bash -c \
  "[ $? -eq 0 ] && grep -q \"fake docker: build --build-arg A=x y .\" '$T/log' && ! grep -q 'after the build snippet' '$T/log'"
check "BKCACHE_RUN: the caches are saved after the build" test -n "$(find "$T/b1/.bkcache" -name '*.tar.zst' 2>/dev/null)"
b1_job=$JOB_ID
mkdir -p "$T/b2" && cp -a "$T/b1/.bkcache" "$T/b2/.bkcache"
run_job sh build-job "$T/b2" BKCACHE_RUN="$T/fakebuild/docker build ." FAKE_STATUS=5
check "BKCACHE_RUN: a failing build fails the job with its status" test $? -eq 5
check "BKCACHE_RUN: the next job's build found the caches restored" restored "$T/b2" "$b1_job"
run_job sh build-job "$T/b4" BKCACHE_RUN="$T/fakebuild/docker build ." BKCACHE_LAYERS=true BKCACHE_LAYERS_FROM=base
check "BKCACHE_RUN with BKCACHE_LAYERS: bkcache build adds --cache-to to the build and looks up base's layers" \
  bash -c "[ $? -eq 0 ] && grep -q 'fake docker: build --cache-to=type=local,dest=.*,mode=max \\.\$' '$T/log' && grep -q '^layers base: miss' '$T/log'"
run_job sh build-job "$T/b3"
check "no BKCACHE_RUN: the build snippet does nothing" grep -q "after the build snippet" "$T/log"

# the layer cache: BKCACHE_LAYERS and BKCACHE_LAYERS_FROM reach restore and save (the real
# bkcache, runner store); the build arguments it writes to the report reach the script
check "no BKCACHE_LAYERS: no layer cache arguments in the report" bash -c "! grep -q BKCACHE_LAYERS_ARGS '$T/r1/bkcache.env'"
run_job sh layers-job "$T/l1"
check "BKCACHE_LAYERS: the job succeeds" test $? -eq 0
check "BKCACHE_LAYERS: the restore writes BKCACHE_LAYERS_ARGS (--cache-to ...) to the dotenv report" \
  grep -Eq '^BKCACHE_LAYERS_ARGS=--cache-to type=local,dest=[^ ]+,mode=max$' "$T/l1/bkcache.env"
check "BKCACHE_LAYERS: the snippet exports it to the rest of the script" \
  grep -Eq '^the build gets --cache-to type=local,dest=[^ ]+,mode=max$' "$T/log"
check "BKCACHE_LAYERS: save moves the layer cache too (and says the build did not export one)" \
  grep -q '^layers: skipped .*did the build get the --cache-to argument' "$T/log"

# the component's build jobs with layers: true: a stand-in bkcache (records its arguments,
# writes the report line the real one writes) and stand-in docker, buildctl and rootlesskit
L=$T/layers-fake
mkdir -p "$L/bin"
cat >"$L/bin/bkcache" <<FAKE
#!/bin/sh
echo "bkcache \$*" >>"$L/calls"
case "\$* " in "restore "*" --layers "*)
  echo 'BKCACHE_LAYERS_ARGS=--cache-from type=local,src=/l/from --cache-to type=local,dest=/l/to,mode=max' >>"\${BKCACHE_OUTPUT:-bkcache.env}" ;;
esac
FAKE
for tool in docker buildctl rootlesskit; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$L" >"$L/bin/$tool"
done
chmod +x "$L/bin/"*
component_job() { # DRIVER DIR INPUT=VALUE...: the component's build job with these inputs
  local driver=$1 dir=$2
  shift 2
  rm -f "$L/calls"
  mkdir -p "$dir"
  script_of gitlab/templates/bkcache.yml bkcache-build driver="$driver" "$@" |
    sed "s#/run/user/1000#$dir/run#g" >"$dir/job.sh" || return 1
  (cd "$dir" && env PATH="$L/bin:$PATH" CI_PROJECT_DIR="$dir" CI_REGISTRY_IMAGE=reg/app CI_COMMIT_REF_SLUG=main \
    CI_JOB_ID=1 sh -e job.sh) >"$T/log" 2>&1
}
component_job buildx "$T/cl1" layers=true "layers-from=base deps"
check "component (buildx), layers: true: the job succeeds" test $? -eq 0
check "component (buildx): restore and save get --layers --layers-from base --layers-from deps" bash -c \
  "grep -q '^bkcache restore .* --layers --layers-from base --layers-from deps' '$L/calls' && grep -q '^bkcache save .* --layers --layers-from base --layers-from deps' '$L/calls'"
check "component (buildx): docker buildx build gets the layer cache's --cache-from/--cache-to" \
  grep -q '^docker buildx build .* --cache-from type=local,src=/l/from --cache-to type=local,dest=/l/to,mode=max \.$' "$L/calls"
component_job buildctl "$T/cl2" layers=true
check "component (buildctl): buildctl build gets them as --import-cache/--export-cache" \
  grep -q '^buildctl --addr .* build .* --import-cache type=local,src=/l/from --export-cache type=local,dest=/l/to,mode=max' "$L/calls"
component_job buildx "$T/cl3"
check "component, layers: false (the default): no --layers and no cache arguments" bash -c \
  "[ -s '$L/calls' ] && ! grep -q -- '--layers\|--cache-from\|--cache-to' '$L/calls'"
check "component, delta empty (the default): no --delta (bkcache's default, auto)" bash -c \
  "grep -q '^bkcache save ' '$L/calls' && ! grep -q -- '--delta' '$L/calls'"

# delta: --delta for save and for bkcache build (run), never for restore; the input's regex
# refuses anything but auto and off, and the restore snippet refuses it in BKCACHE_DELTA
component_job buildx "$T/cd1" delta=off
check "component (buildx), delta: off: save gets --delta off, restore gets no --delta" bash -c \
  "grep -q '^bkcache save .* --delta off' '$L/calls' && grep -q '^bkcache restore ' '$L/calls' && ! grep -q '^bkcache restore .*--delta' '$L/calls'"
component_job buildctl "$T/cd2" delta=auto "run=docker build ."
check "component, delta with run: bkcache build gets --delta auto before the build command" \
  grep -q '^bkcache build .* --delta auto -- docker build \.$' "$L/calls"
check "component: a delta other than auto or off is refused, as GitLab refuses it" bash -c \
  "! node tests/gitlab/templates.js script gitlab/templates/bkcache.yml bkcache-build delta=of >/dev/null 2>'$T/err' &&
   grep -q \"input 'delta': 'of' does not match\" '$T/err'"
BKCACHE_DELTA=of component_job buildx "$T/cd3"
check "BKCACHE_DELTA=of fails the job in the restore snippet, before bkcache runs" bash -c \
  "grep -q \"BKCACHE_DELTA: expected auto or off, got 'of'\" '$T/log' && ! grep -q '^bkcache restore' '$L/calls'"

echo "templates: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
