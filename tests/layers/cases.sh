# tests/layers/cases.sh - the layer cache (restore/save --layers) through one provider,
# sourced by each provider suite after it has set:
#   BKCACHE       the binary
#   LAYERS_WORK   a scratch directory
#   LAYERS_ARGS   an array: the provider options (--provider X --store Y ...)
#   check NAME CMD...   the suite's assertion helper
# and, optionally, a function layers_next_job, called between the jobs of the pipeline
# (a CI whose store ties entries to a run starts the next run there), and layers_after,
# called at the end for the suite's own checks of its store.
# Checks: a save uploads every blob and the index; a restore on a fresh runner brings back
# the identical layout; a second save after a one-line change uploads only the 3 blobs that
# differ (dedup); --layers-from imports another target's cache. Blob counts come from
# bkcache's --json; the suite may add checks against its emulator's own records.
# shellcheck shell=bash

L=$LAYERS_WORK
HERE_LAYERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$L" && mkdir -p "$L/mounts"
cat >"$L/Dockerfile" <<'DF'
FROM scratch AS app
COPY f /f
FROM app AS b
COPY g /g
DF
lbk() { "$BKCACHE" "$@" -f "$L/Dockerfile" --dir "$L/mounts" --state "$L/state.json" "${LAYERS_ARGS[@]}"; }
next_job() { if declare -F layers_next_job >/dev/null; then layers_next_job; fi; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['layers']; print(eval(sys.argv[2]))" "$@"; }

# job 1: the build exported v1 into the --cache-to dest; save uploads it all
lbk restore --target app --layers --layers-dir "$L/w1" --json >"$L/r0.json" 2>"$L/r0.err"
check "layers: a restore with nothing stored is a miss" \
  test "$(jget "$L/r0.json" 'd["hit"]')" = miss
python3 "$HERE_LAYERS/make_oci_cache.py" "$L/w1/to" 5 v1
lbk save --target app --layers --layers-dir "$L/w1" --json >"$L/s1.json" 2>"$L/s1.err"
check "layers: the first save uploads 5 layers, the config and the index list" \
  test "$(jget "$L/s1.json" 'd["action"], d["blobs_uploaded"], d["blobs_skipped"]')" = "('saved', 7, 0)"

next_job
lbk restore --target app --layers --layers-dir "$L/w9" --lookup-only --json >"$L/r9.json" 2>"$L/r9.err"
check "layers: --lookup-only finds the cache and fetches nothing" \
  bash -c "[ \"\$(python3 -c \"import json; d=json.load(open('$L/r9.json'))['layers']; print(d['hit'], d['build_args'])\")\" = 'exact []' ] && [ ! -e '$L/w9/from' ]"

# job 2: a fresh runner restores the identical layout
lbk restore --target app --layers --layers-dir "$L/w2" --json >"$L/r1.json" 2>"$L/r1.err"
check "layers: restore on a fresh runner is an exact hit of 7 blobs" \
  test "$(jget "$L/r1.json" 'd["hit"], d["sources"][0]["blobs_fetched"]')" = "('exact', 7)"
check "layers: the restored layout is identical (index.json and every blob)" \
  bash -c "diff <(cd '$L/w1/to' && ls blobs/sha256 && cat index.json) <(cd '$L/w2/from/app' && ls blobs/sha256 && cat index.json) && for b in '$L'/w1/to/blobs/sha256/*; do cmp \"\$b\" '$L/w2/from/app/blobs/sha256/'\$(basename \"\$b\") || exit 1; done"
check "layers: the build args name the restored source and an empty destination" \
  test "$(jget "$L/r1.json" '" ".join(d["build_args"])')" = "--cache-from type=local,src=$L/w2/from/app --cache-to type=local,dest=$L/w2/to,mode=max"

lbk restore --target app --layers --layers-dir "$L/w2t" >"$L/r1t.out" 2>"$L/r1t.err"
check "layers: text restore prints the build args as one line" \
  grep -qxF "build-args: --cache-from type=local,src=$L/w2t/from/app --cache-to type=local,dest=$L/w2t/to,mode=max" "$L/r1t.out"
args_line="--cache-from type=local,src=$L/w2t/from/app --cache-to type=local,dest=$L/w2t/to,mode=max"
env -u TF_BUILD -u GITLAB_CI GITHUB_ACTIONS=true GITHUB_OUTPUT="$L/gh.out" GITHUB_ENV="$L/gh.env" \
  "$BKCACHE" restore --target app --layers --layers-dir "$L/w2t" -f "$L/Dockerfile" --dir "$L/mounts" \
  --state "$L/state.json" "${LAYERS_ARGS[@]}" >/dev/null 2>&1
env -u TF_BUILD -u GITHUB_ACTIONS GITLAB_CI=true BKCACHE_OUTPUT="$L/gl.env" \
  "$BKCACHE" restore --target app --layers --layers-dir "$L/w2t" -f "$L/Dockerfile" --dir "$L/mounts" \
  --state "$L/state.json" "${LAYERS_ARGS[@]}" >/dev/null 2>&1
check "layers: the build args reach GitHub's step outputs and env, and GitLab's dotenv report" \
  bash -c "grep -qxF 'layers-args=$args_line' '$L/gh.out' && grep -qxF 'BKCACHE_LAYERS_ARGS=$args_line' '$L/gh.env' && grep -qxF 'BKCACHE_LAYERS_ARGS=$args_line' '$L/gl.env'"

next_job
# job 3 edits a late line of app: its restore falls back to the previous cache by prefix,
# and its save uploads only the changed layer, the config and the list
sed -i 's|^COPY f /f$|COPY f /f\nCOPY h /h|' "$L/Dockerfile"
lbk restore --target app --layers --layers-dir "$L/w2" --json >"$L/r2.json" 2>"$L/r2.err"
check "layers: after a one-line change restore is a partial hit on the previous cache" \
  test "$(jget "$L/r2.json" 'd["hit"], d["matched_key"] != d["key"]')" = "('partial', True)"
python3 "$HERE_LAYERS/make_oci_cache.py" "$L/w2/to" 5 v2
lbk plan --target app --layers --layers-dir "$L/w2" --json >"$L/p2.json" 2>"$L/p2.err"
check "layers: plan says save would upload 3 of the 7 blobs" \
  test "$(jget "$L/p2.json" 'd["save"]["blobs_to_upload"], d["save"]["blobs"]')" = "(3, 7)"
lbk save --target app --layers --layers-dir "$L/w2" --json >"$L/s2.json" 2>"$L/s2.err"
check "layers: a save after a one-line change uploads only the 3 new blobs" \
  test "$(jget "$L/s2.json" 'd["blobs_uploaded"], d["blobs_skipped"]')" = "(3, 4)"
LAYERS_BYTES_V2=$(jget "$L/s2.json" 'd["bytes_uploaded"]')
export LAYERS_BYTES_V2

next_job
# a later job exported the very same cache: nothing to upload
lbk save --target app --layers --layers-dir "$L/w2" --json >"$L/s3.json" 2>"$L/s3.err"
check "layers: saving the same cache again uploads nothing" \
  test "$(jget "$L/s3.json" 'd["blobs_uploaded"]')" = 0

next_job
# job 4: target b imports app's cache with --layers-from
lbk restore --target b --layers-from app --layers-dir "$L/w3" --json >"$L/r3.json" 2>"$L/r3.err"
check "layers: --layers-from app imports app's newest cache into target b's build" \
  test "$(jget "$L/r3.json" '[(s["target"], s["hit"], s["blobs_fetched"]) for s in d["sources"]]')" = "[('b', 'miss', 0), ('app', 'partial', 7)]"
check "layers: target b's build args read app's cache" \
  grep -q "type=local,src=$L/w3/from/app" "$L/r3.json"
if declare -F layers_after >/dev/null; then layers_after; fi
