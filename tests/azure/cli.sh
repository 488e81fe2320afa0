# cli.sh - sourced by run.sh: `bkcache save/restore/ls --provider azure`
# (directory mode) against the emulator, so core's store layer (retries,
# verified downloads) and the provider are tested together. Runs only when
# save and restore are built in (see the probe in run.sh).
cd "$work/proj" || exit 1
# the artifact names on stdin without the layer blobs (delta saves store each
# layer as an artifact bkcache-.blob-sha256-<hex> beside the entry's index)
no_blobs() { tr ' ' '\n' | grep -v '^bkcache-\.blob-' | paste -sd' ' -; }
fresh
mkdir -p "$work/cli/a/gomod" "$work/cli/b"
head -c 200000 /dev/urandom >"$work/cli/a/gomod/pkg.bin"
echo one >"$work/cli/a/gomod/one.txt"

pipeline 100 refs/heads/main
"$BKCACHE" save --provider azure --dir "$work/cli/a" --store-opt chunk-size=64K >"$work/out" 2>"$work/err"; rc=$?
saved=$(state | js "(s.artifacts['100']||[]).map(a=>a.name).join(' ')" | no_blobs)
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
# ---- caches that keep learning (issue 15): each build is a run ----
fresh
L=$work/learn
rm -rf "$L" && mkdir -p "$L/r1/gomod" && head -c 100000 /dev/urandom >"$L/r1/gomod/pkg.bin"
lsave() { "$BKCACHE" save --provider azure --dir "$L/$1" --state "$L/$1.state" --json --fail-on-error \
  "${@:2}" >"$L/$1.out" 2>"$L/$1.err"; }
lrestore() { "$BKCACHE" restore --provider azure --dir "$L/$1" --state "$L/$1.state" --json \
  --fail-on-error --fail-on-cache-miss "${@:2}" >"$L/$1.rout" 2>"$L/$1.err"; }
field() { js "s.identities[0].$2" <"$L/$1"; }
artifacts() { state | js "(s.artifacts['$1']||[]).map(a=>a.name).join(' ')" | no_blobs; }
pipeline 300 refs/heads/main
lsave r1
lkey=$(field r1.out key)
finish 300 refs/heads/main
if [ -n "$lkey" ] && [ "$(artifacts 300)" = "$lkey-az300" ]; then
  ok "learning: run 300 saves <key>-az300 (BUILD_BUILDID)"
else bad "learning run 300 (artifacts: $(artifacts 300))" "$L/r1.err"; fi
pipeline 301 refs/heads/main
lrestore r2
lhit=$(field r2.rout hit) lmatched=$(field r2.rout matched_key)
echo learned >"$L/r2/gomod/learned.txt"
lsave r2
finish 301 refs/heads/main
if [ "$lhit" = exact ] && [ "$lmatched" = "$lkey-az300" ] && [ "$(artifacts 301)" = "$lkey-az301" ]; then
  ok "learning: run 301 restores run 300's entry (an exact hit), changes it and saves <key>-az301"
else bad "learning run 301 (hit=$lhit matched=$lmatched artifacts: $(artifacts 301))" "$L/r2.err"; fi
pipeline 302 refs/heads/main
lrestore r3
lmatched=$(field r3.rout matched_key)
lsave r3
finish 302 refs/heads/main
if [ "$lmatched" = "$lkey-az301" ] && diff -r -x .bkcache-base "$L/r2" "$L/r3" >/dev/null &&
  [ "$(field r3.out action)" = unchanged ] && [ -z "$(artifacts 302)" ]; then
  ok "learning: run 302 restores run 301's content; unchanged, it uploads nothing"
else bad "learning run 302 (matched=$lmatched action=$(field r3.out action))" "$L/r3.err"; fi
# builds 303 and 304 run at once, each saving its own tree (whole archives,
# --delta off, so that each artifact unpacks alone below)
cp -r "$L/r3" "$L/r4a" && cp -r "$L/r3" "$L/r4b" && echo a >"$L/r4a/gomod/a" && echo b >"$L/r4b/gomod/b"
pipeline 303 refs/heads/main
(lsave r4a --delta off) &
lpa=$!
pipeline 304 refs/heads/main
(lsave r4b --delta off) &
lpb=$!
wait $lpa && wait $lpb
lrc=$?
finish 303 refs/heads/main
finish 304 refs/heads/main
pipeline 305 refs/heads/main
lboth=1
for r in a b; do # each artifact, fetched by its exact name, unpacks to its tree
  lb=$([ $r = a ] && echo 303 || echo 304)
  drv fetch "$L/v4$r.tar.zst" "$lkey-az$lb" >/dev/null 2>&1 &&
    "$BKCACHE" unpack "$L/v4$r.tar.zst" "$L/v4$r" >/dev/null 2>&1 &&
    diff -r -x .bkcache-base "$L/r4$r/gomod" "$L/v4$r" >/dev/null || lboth=0
done
lrestore r5
finish 305 refs/heads/main
if [ $lrc -eq 0 ] && [ "$(artifacts 303)" = "$lkey-az303" ] && [ "$(artifacts 304)" = "$lkey-az304" ] &&
  [ $lboth = 1 ] && { diff -r -x .bkcache-base "$L/r4a" "$L/r5" >/dev/null || diff -r -x .bkcache-base "$L/r4b" "$L/r5" >/dev/null; }; then
  ok "learning: builds 303 and 304 saving at once leave two whole entries; run 305 restores one"
else bad "learning runs 303-305 (rc=$lrc both=$lboth)" "$L/r5.err"; fi

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
