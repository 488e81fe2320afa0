#!/bin/sh
# builder_from.sh - a cache mount seeded from a stage (from=STAGE,source=DIR).
#
# BuildKit keys such a cache by the stage's result, so the transfer must
# build that stage of the user's Dockerfile exactly as the user's build
# does: bkcache appends its transfer stage to the user's Dockerfile. After
# prune and restore, the user's build finds the cache with the seed files
# and the files its earlier run added.
. "$(dirname "$0")/lib.sh"
e2e_init from

mkdir -p "$T/ctx/seed"
echo "from the seed stage" >"$T/ctx/seed/seed.txt"
cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch AS seed
COPY seed/ /seed/

FROM scratch AS work
COPY busybox /bin/busybox
COPY inspect.sh mtime-1 mtime-2 /bin/
ARG ACTION=list
ARG BKCACHE_E2E_NONCE
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed \
    --mount=type=cache,id=plain-too,target=/p \
    ["/bin/busybox", "sh", "/bin/inspect.sh", "/c", "/p"]

FROM scratch
COPY --from=work /out/ /
DF

prune
ubuild --build-arg ACTION=fill || fail "the fill build failed"
ubuild || fail "the list build failed"
cp "$T/out/list" "$T/before"
check 'grep -q "seed.txt" "$T/before"' "the from= cache does not start with the seed"
bk save || fail "save failed"
check '[ "$(grep -c ": saved" "$T/bk.out")" = 2 ]' "save did not save both caches"
prune
bk restore || fail "restore failed"
check '[ "$(grep -c ": restored" "$T/bk.out")" = 2 ]' "restore did not restore both caches"
check '[ -z "$(ls -a "$T/ctx" | grep .bkcache)" ]' "restore left its files in the user's context"
ubuild || fail "the list build after restore failed"
same_list "$T/before" "the restored from= cache differs"
pass "a from= stage cache and a plain one survive prune in one build"
e2e_done
