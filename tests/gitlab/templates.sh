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

# installing: a missing binary without a URL fails clearly; a URL on the API gets the job token
mkdir -p "$T/inst1"
run_job sh install-only "$T/inst1" BKCACHE_BIN=bkcache-not-installed
check "install: no binary and no BKCACHE_DOWNLOAD_URL fails the job" test $? -ne 0
check "install: with a message saying so" grep -q "BKCACHE_DOWNLOAD_URL is not set" "$T/log"
curl -sf -X PUT -H "JOB-TOKEN: job-maintainer" --upload-file "$BKCACHE" \
  "$CI_API_V4_URL/projects/42/packages/generic/bkcache-bin/1.0.0/bkcache" >/dev/null
mkdir -p "$T/inst2"
run_job sh install-only "$T/inst2" BKCACHE_BIN=bkcache-not-installed \
  BKCACHE_DOWNLOAD_URL="$CI_API_V4_URL/projects/42/packages/generic/bkcache-bin/1.0.0/bkcache"
check "install: downloads the binary from the package registry with the job token" \
  bash -c "[ -x '$T/inst2/.bkcache-bin/bkcache' ] && grep -q 'installed $T/inst2/.bkcache-bin/bkcache' '$T/log'"

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

echo "templates: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
