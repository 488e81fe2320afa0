# cases_5_release.sh - the actions install the release of their own version (sourced by
# run.sh): a loopback release host (tests/emulators/release/server.js, 302 to an /objects/
# URL like the real host) serves a release made by make-release.sh with fake-bkcache.sh as
# the binary. Checks the download, the SHA256SUMS verification, the tool cache layout of
# @actions/tool-cache, and the fallbacks to the source build with a warning.
# shellcheck shell=bash

REL=$WORK/release/files
export RLOG=$WORK/release/requests.log
mkdir -p "$REL"
node "$ROOT/tests/emulators/release/server.js" "$REL" >"$WORK/release.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/release.log" "release host listening on" || nok "release host starts"
REL_URL="http://127.0.0.1:$(sed -n 's/release host listening on //p' "$WORK/release.log")"
RDIR=$REL/owner/bkcache/releases/download
printf '#!/bin/sh\necho helper\n' >"$WORK/fake-helper"
sh "$ROOT/tests/emulators/release/make-release.sh" "$RDIR/v1.2.3" v1.2.3 "$HERE/fake-bkcache.sh" "$WORK/fake-helper"
sh "$ROOT/tests/emulators/release/make-release.sh" "$RDIR/v6.6.6" v6.6.6 "$HERE/fake-bkcache.sh" "$WORK/fake-helper"
sed -i 's/^[0-9a-f]\{8\}/00000000/' "$RDIR/v6.6.6/SHA256SUMS" # a release whose asset was swapped
mkdir -p "$RDIR/v7.0.0" && cp "$RDIR/v1.2.3/SHA256SUMS" "$RDIR/v7.0.0/" # SHA256SUMS, no asset
asset_gets() { grep -c "^GET /owner/bkcache/releases/download/$1/bkcache-$1-linux-amd64.tar.gz 302" "$RLOG"; }
export -f asset_gets
# as the runner runs an action used as owner/bkcache/actions/X@REF: no bkcache on PATH
as_used_at() { # REF ACTION STEP_DIR [inputs...]
  local ref=$1 act=$2 dir=$3; shift 3
  env -u BKCACHE_BIN PATH=/usr/bin:/bin GITHUB_SERVER_URL="$REL_URL" GITHUB_ACTION_REPOSITORY=owner/bkcache \
    GITHUB_ACTION_REF="$ref" RUNNER_TOOL_CACHE="$WORK/toolcache" $SIM "$A/$act" main "$dir" "$@"
}
: >"$WORK/release/requests.log"
rm -rf "$WORK/toolcache"

fresh
as_used_at v1.2.3 restore "$WORK/step" >"$WORK/step/result.json" 2>&1
TC=$WORK/toolcache/bkcache/1.2.3/x64
check "release: a good asset is downloaded, verified and run" bash -c \
  "[ \"\$(json_get exit <$WORK/step/result.json)\" = 0 ] && grep -q '^argv: restore ' $FAKE_LOG && grep -q 'installed in $TC' $WORK/step/main.log"
check "release: the tool cache has @actions/tool-cache's layout (<tool>/<version>/<arch> + <arch>.complete)" bash -c \
  "[ -x $TC/bkcache ] && [ -x $TC/bkcache-helper ] && [ -f $TC.complete ]"
check "release: the asset came through the redirect, with SHA256SUMS" bash -c \
  "grep -q '^GET /objects/owner/bkcache/releases/download/v1.2.3/bkcache-v1.2.3-linux-amd64.tar.gz 200' $WORK/release/requests.log && grep -q 'download/v1.2.3/SHA256SUMS 302' $WORK/release/requests.log"
check "release: its directory goes to GITHUB_PATH for later steps" grep -qx "$TC" "$WORK/step/path.txt"
fresh
as_used_at v1.2.3 cache-mounts "$WORK/step" >"$WORK/step/result.json" 2>&1
check "release: a second action in the job finds it in the tool cache, no second download" bash -c \
  "[ \$(asset_gets v1.2.3) = 1 ] && grep -q 'found in the tool cache' $WORK/step/main.log && grep -q '^argv: restore ' $FAKE_LOG"
check "release: the post step runs the binary the main step found" bash -c \
  "[ \"\$(json_get state.bin <$WORK/step/result.json)\" = $TC/bkcache ]"

fresh
as_used_at v6.6.6 restore "$WORK/step" >"$WORK/step/result.json" 2>&1
check "release: a checksum mismatch fails the step with a clear error and runs nothing" bash -c \
  "[ \"\$(json_get exit <$WORK/step/result.json)\" = 1 ] && grep -q '^::error::bkcache: checksum mismatch for .*bkcache-v6.6.6-linux-amd64.tar.gz: SHA256SUMS says 00000000.*refusing to run it' $WORK/step/main.log && [ ! -s $FAKE_LOG ] && [ ! -e $WORK/toolcache/bkcache/6.6.6 ]"

# no asset fits: the source build of the action's checkout (already built here), with a warning
fresh
as_used_at v7.0.0 save "$WORK/step" >/dev/null 2>&1
check "release: a missing asset falls back to the source build with a warning" bash -c \
  "grep -q '^::warning::bkcache: the release at .*/v7.0.0 has no bkcache-v7.0.0-linux-amd64.tar.gz; building from source' $WORK/step/main.log && grep -qx '$ROOT' $WORK/step/path.txt"
fresh
as_used_at v9.0.0 save "$WORK/step" >/dev/null 2>&1
check "release: a release without SHA256SUMS is not trusted: source build, warning" bash -c \
  "grep -q '^::warning::bkcache: the release at .*/v9.0.0 has no ' $WORK/step/main.log && grep -qx '$ROOT' $WORK/step/path.txt"
fresh
before=$(wc -l <"$WORK/release/requests.log")
as_used_at main save "$WORK/step" >/dev/null 2>&1
check "release: a branch ref builds from source with a warning and asks the host nothing" bash -c \
  "grep -q \"^::warning::bkcache: the action runs from 'main', which is not a release version\" $WORK/step/main.log && [ \$(wc -l <$WORK/release/requests.log) = $before ] && grep -qx '$ROOT' $WORK/step/path.txt"
fresh
as_used_at main save "$WORK/step" version=v1.2.3 >/dev/null 2>&1
check "release: the version input picks a release for a branch ref (from the tool cache)" bash -c \
  "grep -q 'found in the tool cache' $WORK/step/main.log && grep -q '^argv: save ' $FAKE_LOG"
fresh
rm -rf "$WORK/toolcache"
as_used_at v1.2.3 save "$WORK/step" "release-url=$REL_URL/owner/bkcache/releases/download/v1.2.3/" >/dev/null 2>&1
check "release: release-url replaces the derived base URL" bash -c \
  "grep -q 'Downloading $REL_URL/owner/bkcache/releases/download/v1.2.3/bkcache-v1.2.3-linux-amd64.tar.gz' $WORK/step/main.log && grep -q '^argv: save ' $FAKE_LOG"
fresh
BKCACHE_BIN=$HERE/fake-bkcache.sh $SIM "$A/save" main "$WORK/step" store=s3://bucket/ci >/dev/null 2>&1
check "the store input becomes --store" grep -q -- "^argv: save .*--store s3://bucket/ci " "$FAKE_LOG"
fresh
printf "Object.defineProperty(process, 'arch', { value: 'riscv64' });\n" >"$WORK/arch-riscv64.js"
before=$(wc -l <"$RLOG")
NODE_OPTIONS="--require $WORK/arch-riscv64.js" as_used_at v1.2.3 save "$WORK/step" >/dev/null 2>&1
check "release: an architecture without a build (riscv64) builds from source with a warning" bash -c \
  "grep -q '^::warning::bkcache: no release build for linux/riscv64; building from source' $WORK/step/main.log && [ \$(wc -l <$RLOG) = $before ] && grep -qx '$ROOT' $WORK/step/path.txt"
