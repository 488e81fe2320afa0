#!/bin/sh
# builder_compose.sh - several images at once, and bkcache build around the
# user's own build command.
#
#   compose: a two-service project (web, api) whose Dockerfiles share one
#     cache (id=shared) and have one of their own each; both services are
#     built (docker build of each service, as compose would), `save
#     --compose`, builder pruned, `restore --compose`: every mount of both
#     images is warm, and the shared cache was saved and restored once, in
#     one transfer build.
#   bake: the same two images as targets of a JSON bake file.
#   build: `bkcache build -- docker build ...` saves after the build; after
#     a prune the next `bkcache build` finds the mounts warm; a failing build
#     keeps its exit status and saves nothing.
# The builder is the daemon's BuildKit (Docker 20.10's DOCKER_BUILDKIT=1
# docker build), or Docker 26's buildx under make test-e2e-docker26 (the
# bkcache build round trip then runs `docker buildx build`).
. "$(dirname "$0")/lib.sh"
e2e_init compose

P=$T/proj
mkdir -p "$P"
service() { # NAME: a service directory whose RUN lists or fills its two caches
  mkdir -p "$P/$1"
  cp "$T/ctx/busybox" "$T/ctx/inspect.sh" "$T/ctx/mtime-1" "$T/ctx/mtime-2" "$P/$1/"
  cat >"$P/$1/Dockerfile" <<DF
FROM scratch AS work
COPY busybox /bin/busybox
COPY inspect.sh mtime-1 mtime-2 /bin/
ARG ACTION=list
ARG DIRS="/c/shared /c/own"
ARG BKCACHE_E2E_NONCE
RUN --mount=type=cache,id=shared,target=/c/shared --mount=type=cache,id=$1-own,target=/c/own \
    ["/bin/busybox", "sh", "-c", "/bin/busybox sh /bin/inspect.sh \$DIRS"]

FROM scratch
COPY --from=work /out/ /
DF
}
service web
service api
cat >"$P/compose.yaml" <<'YML'
services:
  web:
    build: web
  api:
    build:
      context: api
  db:
    image: postgres
YML
cat >"$P/docker-bake.json" <<'JSON'
{"group": {"default": {"targets": ["web", "api"]}},
 "target": {"web": {"context": "web"}, "api": {"context": "api"}}}
JSON

# sbuild SERVICE ACTION [DIRS]: the service's image, as compose or bake would build it
sbuild() {
  rm -rf "$T/out-$1"
  "$DOCKER" build --network=none --progress=plain --build-arg "ACTION=$2" \
    --build-arg "DIRS=${3:-/c/shared /c/own}" \
    --build-arg "BKCACHE_E2E_NONCE=$(date +%s%N)" -o "type=local,dest=$T/out-$1" \
    "$P/$1" >"$T/build.log" 2>&1
}
bkp() { # bkcache CMD in the project directory, local store, verbose
  cmd=$1
  shift
  (cd "$P" && "$BK" "$cmd" -v -v --provider local --store "$T/store" --state "$T/state.json" \
    --docker "$DOCKER" "$@") >"$T/bk.out" 2>"$T/bk.err"
}
warm() { # SERVICE: both of its caches hold the filled tree
  sbuild "$1" list || fail "the $1 build (list) failed"
  n=$(grep -c 'a.txt' "$T/out-$1/list")
  [ "$n" -eq 2 ] || fail "$1: $n of its 2 caches are warm: $(cat "$T/out-$1/list")"
}

for how in compose bake; do
  if [ $how = compose ]; then sel="--compose compose.yaml"; else sel="--bake docker-bake.json"; fi
  prune
  sbuild web fill || fail "the web build (fill) failed"
  sbuild api fill /c/own || fail "the api build (fill) failed"
  bkp save $sel || fail "$how: save failed"
  check '[ "$(grep -c "^shared: saved" "$T/bk.out")" -eq 1 ]' "$how: shared not saved exactly once"
  check 'grep -q "^web-own: saved" "$T/bk.out" && grep -q "^api-own: saved" "$T/bk.out"' \
    "$how: an image's own cache was not saved"
  check '[ "$(grep -c "generated Dockerfile" "$T/bk.err")" -eq 1 ]' \
    "$how: save ran $(grep -c "generated Dockerfile" "$T/bk.err") transfer builds, not 1"
  prune
  bkp restore $sel || fail "$how: restore failed"
  check '[ "$(grep -c "^shared: restored" "$T/bk.out")" -eq 1 ]' \
    "$how: shared not restored exactly once"
  check '[ "$(grep -c "generated Dockerfile" "$T/bk.err")" -eq 1 ]' \
    "$how: restore ran more than one transfer build"
  warm web
  warm api
  pass "$how: both images' mounts warm after save, prune, restore; the shared cache moved once"
  rm -rf "$T/store" "$T/state.json"
done

# bkcache build around the user's build command: docker build (Docker 20.10),
# docker buildx build on the buildx stack (make test-e2e-docker26)
if [ "${E2E_DRIVER:-}" = buildx ]; then bcmd="buildx build"; else bcmd=build; fi
prune
(cd "$P" && "$BK" build --provider local --store "$T/store" --state "$T/state.json" -- \
  "$DOCKER" $bcmd --network=none --build-arg ACTION=fill -o "type=local,dest=$T/out-b" web) \
  >"$T/b.out" 2>"$T/bk.err" || fail "bkcache build (fill) failed"
check 'grep -q "^shared: saved" "$T/bk.err" && grep -q "^web-own: saved" "$T/bk.err"' \
  "bkcache build did not save both caches"
prune
(cd "$P" && "$BK" build --provider local --store "$T/store" --state "$T/state.json" -- \
  "$DOCKER" $bcmd --network=none --build-arg ACTION=list \
  --build-arg "BKCACHE_E2E_NONCE=$(date +%s%N)" -o "type=local,dest=$T/out-b" web) \
  >"$T/b.out" 2>"$T/bk.err" || fail "bkcache build (list) failed"
check '[ "$(grep -c a.txt "$T/out-b/list")" -eq 2 ]' \
  "bkcache build: the mounts were not warm after a prune: $(cat "$T/out-b/list")"
check 'grep -q "^shared: restored" "$T/bk.err"' "bkcache build did not restore shared"
pass "bkcache build -- docker $bcmd: save after the build, warm mounts after a prune"

sed -i 's|\["/bin/busybox", "sh", "-c",|["/bin/busybox", "false",|' "$P/web/Dockerfile"
(cd "$P" && "$BK" build --provider local --store "$T/store" --state "$T/state.json" -- \
  "$DOCKER" $bcmd --network=none --build-arg "BKCACHE_E2E_NONCE=$(date +%s%N)" web) \
  >"$T/b.out" 2>"$T/bk.err"
rc=$?
check '[ $rc -eq 1 ]' "a failing build under bkcache build exited $rc, not docker $bcmd's 1"
check 'grep -q "caches not saved" "$T/bk.err"' "the caches were saved after a failed build"
pass "bkcache build keeps a failing build's exit status and saves nothing"
e2e_done
