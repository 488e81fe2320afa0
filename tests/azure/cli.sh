# cli.sh - sourced by run.sh: `bkcache save/restore/ls --provider azure`
# (directory mode) against the emulator, so core's store layer (retries,
# verified downloads) and the provider are tested together. Runs only when
# save and restore are built in (see the probe in run.sh).
cd "$work/proj" || exit 1
fresh
mkdir -p "$work/cli/a/gomod" "$work/cli/b"
head -c 200000 /dev/urandom >"$work/cli/a/gomod/pkg.bin"
echo one >"$work/cli/a/gomod/one.txt"

pipeline 100 refs/heads/main
"$BKCACHE" save --provider azure --dir "$work/cli/a" --store-opt chunk-size=64K >"$work/out" 2>"$work/err"; rc=$?
saved=$(state | js "(s.artifacts['100']||[]).map(a=>a.name).join(' ')")
if [ $rc -eq 0 ] && case $saved in bkcache-gomod-*) true;; *) false;; esac && grep -q '^gomod: saved' "$work/out"; then
  ok "cli: bkcache save --provider azure stores the cache as an artifact of the run"
else bad "cli save (rc=$rc artifacts=$saved)" "$work/err"; fi
finish 100 refs/heads/main

# a 429 on the first builds request: core retries after Retry-After and restores
pipeline 101 refs/heads/feature main
ctl faults '{"method":"GET","path":"/_apis/build/builds","times":1,"status":429,"headers":{"Retry-After":"1"}}'
"$BKCACHE" restore --provider auto --dir "$work/cli/b" --json >"$work/out" 2>"$work/err"; rc=$?
hit=$(js "s.identities[0].hit" <"$work/out" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$hit" = exact ] && cmp -s "$work/cli/a/gomod/pkg.bin" "$work/cli/b/gomod/pkg.bin"; then
  ok "cli: restore --provider auto (TF_BUILD) retries a 429 and restores from the PR target branch"
else bad "cli restore (rc=$rc hit=$hit)" "$work/err"; fi

"$BKCACHE" ls --provider azure >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "$saved" "$work/out"; then ok "cli: bkcache ls lists the artifact"
else bad "cli ls (rc=$rc)" "$work/err"; fi

pipeline 102 refs/heads/main
echo changed >"$work/cli/a/gomod/one.txt"
"$BKCACHE" save --provider azure --dir "$work/cli/a" --key-extra v2 --store-opt upload=agent >"$work/out" 2>"$work/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^##vso\[artifact.upload containerfolder=bkcache-gomod-[^;]*;artifactname=bkcache-gomod-.*\]/.*/cache.tar.zst$' "$work/out" &&
   [ -z "$(state | js "(s.artifacts['102']||[]).map(a=>a.name).join(' ')")" ]; then
  ok "cli: save with --store-opt upload=agent hands the archive to the agent"
else bad "cli agent upload (rc=$rc)" "$work/out"; fi

env -u SYSTEM_ACCESSTOKEN "$BKCACHE" restore --provider azure --dir "$work/cli/c" >"$work/out" 2>"$work/err"; rc=$?
if grep -q 'SYSTEM_ACCESSTOKEN: \$(System.AccessToken)' "$work/err"; then
  ok "cli: a missing token is reported with the line that maps it (exit $rc)"
else bad "cli missing token (rc=$rc)" "$work/err"; fi
cd "$root" || exit 1

# ---- the layer cache (--layers): tests/layers/cases.sh, one pipeline run per job ----
fresh
export E work
LAYERS_WORK=$work/layers LAYERS_HOOKS=$here/layers_hooks.sh LAYERS_FIRST_BUILD=300 \
  bash "$root/tests/layers/run_cases.sh" --provider azure >"$work/layers.out" 2>&1; rc=$?
if [ $rc -eq 0 ]; then ok "cli: the layer cache through build artifacts (round trip, dedup, --layers-from)"
else bad "cli layers (rc=$rc)" "$work/layers.out"; fi
# the emulator's record: blobs are artifacts of the run that first stored them; a later run
# that needs them references them there (10 blob artifacts in all: 7, then 3)
blobs=$(state | js "Object.values(s.artifacts).flat().filter(a=>a.name.startsWith('bkcache-.blob-sha256-')).length")
if [ "$blobs" = 10 ]; then ok "cli: 10 blob artifacts for two caches of 7 blobs sharing 4"
else bad "cli layers: $blobs blob artifacts, wanted 10" "$work/layers.out"; fi
