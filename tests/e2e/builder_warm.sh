#!/bin/sh
# builder_warm.sh - the original problem: after the runner's builder cache
# is gone and the Dockerfile's RUN line changed (an instruction-cache miss),
# the RUN still finds its cache mounts warm once bkcache restored them.
# Uses examples/buildkit (our static fill program, no busybox).
. "$(dirname "$0")/lib.sh"
e2e_init warm

cp "$E2E_ROOT/examples/buildkit/Dockerfile" "$T/ctx/Dockerfile"
cc -static -O2 -o "$T/ctx/fill" "$E2E_ROOT/examples/buildkit/fill.c" ||
  fail "cannot build examples/buildkit/fill.c statically"

prune
ubuild || fail "the first build failed"
check 'grep -q "cold" "$T/out/report"' "the first build did not start cold"
bk save || fail "save failed"
prune
bk restore --mount demo-objects || fail "restore failed"
check 'grep -q "demo-objects: restored" "$T/bk.out"' "demo-objects was not restored"
check '! grep -q "demo-deps" "$T/bk.out"' "--mount demo-objects restored demo-deps too"
sed -i 's|"/cache/deps"\]|"/cache/deps", "--edited"]|' "$T/ctx/Dockerfile"
ubuild || fail "the build with the edited RUN line failed"
check 'grep -q "/cache/objects: warm" "$T/out/report"' \
  "the edited RUN did not find its restored cache warm: $(cat "$T/out/report")"
check 'grep -q "/cache/deps: cold" "$T/out/report"' "the cache that was not restored is warm"
pass "after prune and an edited RUN line the restored cache mount is warm"
e2e_done
