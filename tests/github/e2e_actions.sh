# e2e_actions.sh - the actions with the real binary, directory mode, against the emulator
# (sourced by cases_4_cli.sh after the CLI has saved $C/src's two mounts).
# shellcheck shell=bash

fresh
rm -rf "$C/act" "$C/act2"
BKCACHE_BIN=$BKCACHE $SIM "$A/restore" main "$WORK/step" dockerfile="$C/Dockerfile" \
  dir="$C/act" >"$WORK/step/result.json" 2>&1
check "e2e: restore action exits 0" test "$(json_get exit <"$WORK/step/result.json")" = 0
check "e2e: restore action sets cache-hit=true after exact hits" \
  test "$(json_get outputs.cache-hit <"$WORK/step/result.json")" = true
check "e2e: restore action restored the trees" diff -r -x .bkcache-base "$C/src" "$C/act"
check "e2e: job summary lists both mounts as exact hits" \
  bash -c "[ \$(grep -c '| exact hit |' $WORK/step/summary.md) = 2 ]"
cp "$WORK/step/summary.md" "$WORK/summary-e2e-restore.md"

fresh
mkdir -p "$C/act2/gocache"
echo new >"$C/act2/gocache/new-file"
BKCACHE_BIN=$BKCACHE $SIM "$A/cache-mounts" main "$WORK/step" dockerfile="$C/Dockerfile" \
  dir="$C/act2" >"$WORK/step/main.json" 2>&1
BKCACHE_BIN=$BKCACHE $SIM "$A/cache-mounts" post "$WORK/step" dockerfile="$C/Dockerfile" \
  dir="$C/act2" >"$WORK/step/post.json" 2>&1
check "e2e: cache-mounts main and post exit 0" \
  test "$(json_get exit <"$WORK/step/main.json")/$(json_get exit <"$WORK/step/post.json")" = 0/0
check "e2e: the post step wrote the save table" grep -q "^### bkcache save" "$WORK/step/summary.md"
cp "$WORK/step/summary.md" "$WORK/summary-e2e-cache-mounts.md"
if [ -n "${GH_SHOW_SUMMARY:-}" ]; then cat "$WORK/summary-e2e-restore.md" "$WORK/summary-e2e-cache-mounts.md"; fi

# delta: off through the save action: the real binary stores the changed mount as one plain
# archive entry, no new layer blob (with the default, auto, the change would be a blob)
blobs() { curl -fsS "$EMU/_emu/entries" | grep -o '"key":"bkcache-\.blob-' | wc -l; }
finals() { curl -fsS "$EMU/_emu/entries" | grep -o '"final":true' | wc -l; }
fresh
echo newer >"$C/act2/gocache/new-file"
b0=$(blobs) f0=$(finals)
BKCACHE_BIN=$BKCACHE $SIM "$A/save" main "$WORK/step" dockerfile="$C/Dockerfile" dir="$C/act2" \
  delta=off >"$WORK/step/result.json" 2>&1
check "e2e: save action with delta: off exits 0 and runs save --delta off" bash -c \
  "[ \"\$(json_get exit <$WORK/step/result.json)\" = 0 ] && grep -q -- '--delta off' $WORK/step/main.log"
check "e2e: delta: off stored the changed mount as one archive entry, no layer blob" \
  test "$(blobs)/$(finals)" = "$b0/$((f0 + 1))"
