#!/bin/sh
# demo.sh - `make demo`: the real BuildKit round trip.
#
#   1. build examples/buildkit (its RUN fills two cache mounts: cold);
#   2. bkcache save into a fresh local store;
#   3. docker builder prune -af (what an ephemeral CI runner starts with);
#   4. bkcache restore;
#   5. rebuild with an edited RUN line (an instruction-cache miss): the RUN
#      finds its cache mounts warm.
# Builds use a namespace of their own (BUILDKIT_CACHE_MOUNT_NS), so the
# first build is cold whatever ran before. Note that step 3 wipes the
# builder's whole build cache.
#
# When no BuildKit is reachable through DOCKER (default /usr/bin/docker
# with DOCKER_BUILDKIT=1), it says so and runs the directory-mode demo
# (scripts/demo-dir.sh) instead. BKCACHE names the binary (default ./bkcache).
set -eu
BK=${BKCACHE:-./bkcache}
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1

fallback() {
  echo "demo: no BuildKit reachable ($1); running the directory-mode demo instead"
  exec sh scripts/demo-dir.sh
}
[ -x "$DOCKER" ] || fallback "no docker client at $DOCKER"
"$DOCKER" version >/dev/null 2>&1 || fallback "the docker daemon does not answer"
if "$DOCKER" build --help 2>&1 | grep -q "buildx component is missing"; then
  fallback "$DOCKER needs the buildx component"
fi
command -v cc >/dev/null 2>&1 || fallback "no C compiler for the demo's fill program"

work=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/ctx"
cp examples/buildkit/Dockerfile "$work/ctx/Dockerfile"
cc -static -O2 -o "$work/ctx/fill" examples/buildkit/fill.c
ns="demo-$(date +%s)"
common="-f $work/ctx/Dockerfile --build-arg BUILDKIT_CACHE_MOUNT_NS=$ns --docker $DOCKER \
--provider local --store $work/store --state $work/state.json"

build() {
  rm -rf "$work/out"
  "$DOCKER" build --network=none --build-arg "BUILDKIT_CACHE_MOUNT_NS=$ns" \
    -o "type=local,dest=$work/out" "$work/ctx" >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log" >&2; echo "demo: the build failed" >&2; exit 1; }
  sed 's/^/   /' "$work/out/report"
}

echo "== 1. build examples/buildkit (namespace $ns): the RUN fills its cache mounts"
build
echo "== 2. bkcache save"
"$BK" save $common
echo "== 3. docker builder prune -af (a fresh CI runner)"
"$DOCKER" builder prune -af | tail -1
echo "== 4. bkcache restore"
"$BK" restore $common --fail-on-cache-miss --fail-on-error
echo "== 5. rebuild with an edited RUN line (an instruction-cache miss)"
sed -i 's|"/cache/deps"\]|"/cache/deps", "--edited"]|' "$work/ctx/Dockerfile"
build
if [ "$(grep -c ': warm' "$work/out/report")" -eq 2 ]; then
  echo "demo: OK, the edited RUN found both cache mounts warm after the builder was wiped"
else
  echo "demo: FAILED, the edited RUN did not find its cache mounts warm" >&2
  exit 1
fi
