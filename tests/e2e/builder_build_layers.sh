#!/bin/sh
# builder_build_layers.sh - both caches in one step: `bkcache build --layers -- docker
# build ...` (issue 18 item 1 with issue 17's layer cache). bkcache adds the layer cache's
# --cache-from/--cache-to to the user's command itself; nothing is repeated.
#   job 1: a cold build; bkcache saves the mount and the layer cache the build exported
#   job 2: a fresh runner (builder wiped, working directory gone), an edited late RUN
#          line: the steps above it CACHED, the edited RUN finds the mount warm, and the
#          save uploads only the new blobs
# On a builder that cannot export a layer cache (Docker 20.10's docker build) bkcache
# says so in one line, adds no option to the command, and the mount still round-trips.
. "$(dirname "$0")/lib.sh"
e2e_init build-layers

cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch AS app
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo early-step; echo built >/early"]
RUN --mount=type=cache,id=objs,target=/objs ["/bin/busybox", "sh", "-c", "echo late-step v1; n=$(/bin/busybox ls /objs | /bin/busybox wc -l); /bin/busybox mkdir -p /out; echo \"late: $n objects before\" >/out/report; echo o >/objs/o$(/bin/busybox date +%s%N)"]
FROM scratch AS out
COPY --from=app /out/ /
DF

# job: one bkcache build around the user's docker build of target out
job() {
  rm -rf "$T/out"
  "$BK" build --layers --provider local --store "$T/store" --state "$T/state.json" -- \
    "$DOCKER" build --network=none --progress=plain --target out -o "type=local,dest=$T/out" \
    "$T/ctx" >"$T/build.log" 2>"$T/bk.err"
}
cached() {
  n=$(grep -m1 "RUN .*echo $1" "$T/bk.err" | sed -n 's/^#\([0-9]*\) .*/\1/p')
  [ -n "$n" ] && grep -q "^#$n CACHED" "$T/bk.err"
}
uploaded() { sed -n 's/^layers: saved [^ ]* (\([0-9]*\) blobs uploaded.*/\1/p' "$T/bk.err"; }

prune
job || fail "job 1: bkcache build failed"
if grep -q "^warning: the layer cache needs" "$T/bk.err"; then
  check '[ "$(grep -c "^warning: the layer cache needs" "$T/bk.err")" = 1 ]' "not one line"
  check '! grep -q "^build-args: .*--cache-to" "$T/bk.err"' "an option for a builder that cannot export"
  check 'grep -q "^objs: saved" "$T/bk.err"' "the mount was not saved"
  pass "a builder that cannot export: one line, no option added, the mount still saved"
  e2e_done
  exit 0
fi
check 'grep -q "late: 0 objects before" "$T/out/report"' "job 1 did not start cold"
check 'grep -q "^objs: saved" "$T/bk.err"' "job 1: the mount was not saved"
up1=$(uploaded)
check '[ "${up1:-0}" -ge 3 ]' "job 1: the layer cache was not saved: $(grep '^layers' "$T/bk.err")"
pass "job 1: one command built cold and saved the mount and the layer cache ($up1 blobs)"

prune
rm -rf "$T/state.json" "$T/state-layers"
sed -i 's/echo late-step v1/echo late-step v2/' "$T/ctx/Dockerfile"
job || fail "job 2: bkcache build failed"
check 'grep -q "^layers out: restored" "$T/bk.err"' "job 2: no layer cache restored"
check 'grep -q "importing cache manifest from local" "$T/bk.err"' "job 2: the build did not import the layer cache"
check 'cached early-step' "job 2: the early step was not CACHED"
check '! cached "late-step v2"' "job 2: the edited RUN did not run"
check 'grep -q "late: 1 objects before" "$T/out/report"' \
  "job 2: the edited RUN did not find the mount warm: $(cat "$T/out/report")"
up2=$(uploaded)
check '[ -n "$up2" ] && [ "$up2" -lt "$up1" ]' "job 2 uploaded ${up2:-no} blobs of $up1"
pass "job 2: steps above the edited RUN CACHED, the mount warm, $up2 new blobs uploaded"
e2e_done
