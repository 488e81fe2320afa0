#!/bin/sh
# builder_layers.sh - both caches across CI jobs (issue 17), the real case: image A fills
# a ccache-like cache mount; image B is built on A's stages in another job.
#   job 1: build target a, save both caches (mounts + layer cache); the builder is wiped
#   job 2: restore both, build with an edited late RUN line: every step above it is
#          CACHED (the layer cache) and the edited RUN finds the mount warm
#   job 3: build target b (FROM a) with --layers-from a: a's steps are CACHED
#   a second save after the one-line change uploads only the new blobs.
# On a builder that cannot export a layer cache (Docker 20.10's docker build) restore
# --layers says so in one line, passes no build argument, and the mounts still work.
. "$(dirname "$0")/lib.sh"
e2e_init layers

cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch AS a
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo early-step; /bin/busybox mkdir -p /work && echo built >/work/early"]
RUN --mount=type=cache,id=ccache,target=/ccache ["/bin/busybox", "sh", "-c", "echo compile-step; n=$(/bin/busybox ls /ccache | /bin/busybox wc -l); /bin/busybox mkdir -p /out; echo \"compile: $n objects before\" >/out/report; i=0; while [ $i -lt 50 ]; do /bin/busybox dd if=/dev/urandom of=/ccache/obj$i bs=1k count=8 2>/dev/null; i=$((i+1)); done"]
RUN --mount=type=cache,id=ccache,target=/ccache ["/bin/busybox", "sh", "-c", "echo late-step v1; n=$(/bin/busybox ls /ccache | /bin/busybox wc -l); echo \"late: $n objects\" >>/out/report"]

FROM a AS b
RUN ["/bin/busybox", "sh", "-c", "echo b-step >>/out/report"]

FROM scratch AS out-a
COPY --from=a /out/ /
FROM scratch AS out-b
COPY --from=b /out/ /
DF

# the build arguments restore printed ("build-args: --cache-from ... --cache-to ...")
layer_args() { sed -n 's/^build-args: //p' "$T/bk.out"; }
# cached MARKER: the build step whose command echoes MARKER was CACHED
cached() {
  n=$(grep -m1 "RUN .*echo $1" "$T/build.log" | sed -n 's/^#\([0-9]*\) .*/\1/p')
  [ -n "$n" ] && grep -q "^#$n CACHED" "$T/build.log"
}
# build TARGET STAGE ARGS...: the user's build of STAGE (exported) with the layer-cache args
build() {
  stage=$1
  shift
  rm -rf "$T/out"
  "$DOCKER" build --network=none --progress=plain -f "$T/ctx/Dockerfile" --target "$stage" \
    -o "type=local,dest=$T/out" "$@" "$T/ctx" >"$T/build.log" 2>&1
}

prune
bk restore --target out-a --layers --layers-dir "$T/l1" || fail "job 1: restore failed"
if grep -q "cannot export\|needs a builder that can export\|lacks" "$T/bk.err"; then
  check '[ "$(grep -c "layer cache" "$T/bk.err")" -ge 1 ]' "no one-line explanation"
  check '[ -z "$(layer_args)" ]' "build arguments passed to a builder that cannot export: $(layer_args)"
  build out-a || fail "job 1: the build failed"
  bk save --target out-a --layers --layers-dir "$T/l1" || fail "save failed"
  check 'grep -q "^ccache: saved" "$T/bk.out"' "the mount was not saved: $(cat "$T/bk.out")"
  check 'grep -q "^layers: skipped" "$T/bk.out"' "the layer cache was not skipped"
  pass "a builder that cannot export a layer cache: one line, no arguments, the mounts still saved"
  e2e_done
  exit 0
fi

# ---- job 1: build a, save both ----
# shellcheck disable=SC2046
build out-a $(layer_args) || fail "job 1: the build failed"
check 'grep -q "compile: 0 objects before" "$T/out/report"' "job 1 did not start cold"
check '[ -s "$T/l1/to/index.json" ]' "the build exported no layer cache to $T/l1/to"
# "layers: saved KEY (N blobs uploaded, SIZE, M already stored)"
uploaded() { sed -n 's/^layers: saved [^ ]* (\([0-9]*\) blobs uploaded.*/\1/p' "$T/bk.out"; }
skipped() { sed -n 's/^layers: saved .*, \([0-9]*\) already stored).*/\1/p' "$T/bk.out"; }
bk save --target out-a --layers --layers-dir "$T/l1" || fail "job 1: save failed"
up1=$(uploaded)
check '[ "${up1:-0}" -ge 3 ]' "job 1 uploaded ${up1:-no} blobs"
pass "job 1: target a built cold, mounts and layer cache saved ($up1 blobs)"

# ---- job 2: a fresh runner, an edited late RUN line ----
prune
rm -rf "$T/l1"
sed -i 's/echo late-step v1/echo late-step v2/' "$T/ctx/Dockerfile"
bk restore --target out-a --layers --layers-dir "$T/l2" || fail "job 2: restore failed"
check 'grep -q "^layers out-a: restored" "$T/bk.out"' "job 2: no layer cache restored: $(cat "$T/bk.out")"
# shellcheck disable=SC2046
build out-a $(layer_args) || fail "job 2: the build failed"
check 'cached early-step' "job 2: the early step was not CACHED"
check 'cached compile-step' "job 2: the compile step was not CACHED"
check '! cached "late-step v2"' "job 2: the edited RUN did not run"
check 'grep -q "late: 50 objects" "$T/out/report"' \
  "job 2: the edited RUN did not find the mount warm: $(cat "$T/out/report")"
pass "job 2: every step above the edited RUN CACHED, the edited RUN found the mount warm"

bk save --target out-a --layers --layers-dir "$T/l2" || fail "job 2: save failed"
up2=$(uploaded)
sk2=$(skipped)
check '[ "${sk2:-0}" -ge 2 ] && [ "${up2:-99}" -le 4 ]' \
  "job 2's save uploaded ${up2:-?} blobs and skipped ${sk2:-?}: not only the new ones"
pass "job 2: the save after a one-line change uploaded $up2 new blobs, skipped $sk2 stored ones"

# ---- job 3: target b, built on a's stages, imports a's layer cache ----
prune
bk restore --target out-b --layers-from out-a --layers-dir "$T/l3" || fail "job 3: restore failed"
check 'grep -q "^layers out-a: restored" "$T/bk.out"' "job 3: a's layer cache not imported: $(cat "$T/bk.out")"
# shellcheck disable=SC2046
build out-b $(layer_args) || fail "job 3: the build failed"
check 'cached early-step && cached compile-step && cached "late-step v2"' "job 3: a's steps were not CACHED"
check 'grep -q "b-step" "$T/out/report"' "job 3: b's own step did not run"
pass "job 3: target b with --layers-from out-a: every step of a CACHED"
e2e_done
