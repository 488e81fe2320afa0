# cases_4_cli.sh - `bkcache save` and `bkcache restore --provider github` in directory mode
# against the emulator, and the actions end to end (sourced by run.sh). Skipped while this
# build cannot save (the save/restore commands or the archive code not yet in).
# shellcheck shell=bash

C=$WORK/cli
mkdir -p "$C/src/gocache/sub" "$C/src/npm" "$C/back"
cat >"$C/Dockerfile" <<'DF'
FROM alpine:3.20
RUN --mount=type=cache,id=gocache,target=/root/.cache/go-build \
    --mount=type=cache,id=npm,target=/root/.npm \
    true
DF
head -c 200000 /dev/urandom >"$C/src/gocache/sub/obj.a"
echo module >"$C/src/gocache/README"
echo '{}' >"$C/src/npm/index.json"

# probe: can this build save at all (save/restore and the archive code present)?
"$BKCACHE" save -f "$C/Dockerfile" --dir "$C/src" --provider local --store "$C/probe" --json \
  >"$C/probe.log" 2>&1
if grep -q '"action":.*"saved"' "$C/probe.log"; then
  reset
  bk() { "$BKCACHE" "$@" -f "$C/Dockerfile" --provider github --state "$C/state.json"; }
  check "cli: bkcache save --provider github (directory mode)" bk save --dir "$C/src"
  # delta saves: each mount is a layer blob (an entry of its own) and an index
  check "cli: both mounts were uploaded" bash -c \
    "[ \$(curl -fsS $EMU/_emu/entries | grep -o '\"final\":true' | wc -l) = 4 ] &&
     [ \$(curl -fsS $EMU/_emu/entries | grep -o '\"key\":\"bkcache-\\.blob-' | wc -l) = 2 ]"
  check "cli: bkcache restore --provider github into empty directories" \
    bk restore --dir "$C/back" --json
  check "cli: restored trees are identical" diff -r -x .bkcache-base "$C/src" "$C/back"
  check "cli: saving the same keys again exits 0" bk save --dir "$C/src"
  fault '{"twirp429":{"count":1,"retryAfter":1}}'
  rm -rf "$C/back2"
  check "cli: a 429 with Retry-After on lookup is retried by core" \
    bk restore --dir "$C/back2"
  check "cli: after the retry the tree is there" diff -r -x .bkcache-base "$C/src" "$C/back2"
  # caches that keep learning on a store whose keys are immutable
  # shellcheck source=tests/learning/scenario.sh
  . "$ROOT/tests/learning/scenario.sh"
  check "cli: the github cache keeps learning: runs of one key" \
    learning_scenario "$C/learn" 0 --provider github
  # with a token for the repository's REST API, older runs of a key are removed
  reset
  check "cli: with an API token (actions: write) the github cache keeps 3 runs of a key" \
    env GITHUB_TOKEN=ghs-emu-write GITHUB_API_URL="$EMU" GITHUB_REPOSITORY=octo/app ROOT="$ROOT" BKCACHE="$BKCACHE" \
    bash -c ". '$ROOT/tests/learning/scenario.sh' && learning_scenario '$C/learn-api' 1 --provider github"
  read_only_token() {
    local o=(-f "$C/Dockerfile" --provider github --dir "$C/src" --state "$C/ro.state")
    export GITHUB_API_URL="$EMU" GITHUB_REPOSITORY=octo/app
    GITHUB_TOKEN=ghs-emu-read "$BKCACHE" save "${o[@]}" --run-id ro1 >/dev/null 2>&1
    sleep 1
    echo ro >"$C/src/npm/ro.txt"
    GITHUB_TOKEN=ghs-emu-read "$BKCACHE" save "${o[@]}" --run-id ro2 --keep-per-key 1 \
      --fail-on-error >"$C/ro.out" 2>"$C/ro.err" &&
      grep -q 'npm: saved' "$C/ro.out" && grep -q 'actions: write' "$C/ro.err" &&
      ! "$BKCACHE" ls --provider github >"$C/ls.out" 2>"$C/ls.err" &&
      grep -q 'GITHUB_TOKEN' "$C/ls.err" || { cat "$C/ro.out" "$C/ro.err" "$C/ls.err"; false; }
    unset GITHUB_API_URL GITHUB_REPOSITORY
  }
  check "cli: a token that may not delete: the save stands, a warning names the permission" \
    read_only_token
  run_id_key() { # (a state file of its own: nothing restored, so nothing is "unchanged")
    local s=(save -f "$C/Dockerfile" --provider github --state "$C/run9.state" --dir "$C/src" --json)
    GITHUB_RUN_ID=9 GITHUB_RUN_ATTEMPT=2 "$BKCACHE" "${s[@]}" >"$C/run9.json" &&
      grep -q '"save_key":.*-gh9\.2"' "$C/run9.json" &&
      curl -fsS "$EMU/_emu/entries" | grep -q -- '-gh9\.2"' &&
      GITHUB_RUN_ID=9 GITHUB_RUN_ATTEMPT=2 "$BKCACHE" "${s[@]}" >"$C/run9b.json" &&
      grep -q '"action":.*"exists"' "$C/run9b.json" || { cat "$C/run9.json" "$C/run9b.json"; false; }
  }
  check "cli: run 9 attempt 2 saves <key>-gh9.2; its second save finds it there" run_id_key
  if [ -f "$HERE/e2e_actions.sh" ]; then
    # shellcheck source=/dev/null
    . "$HERE/e2e_actions.sh"
  fi
else
  echo "skip cli and e2e: this build cannot save yet ($(grep -m1 -i 'not implemented\|not in this build' "$C/probe.log"))"
fi
