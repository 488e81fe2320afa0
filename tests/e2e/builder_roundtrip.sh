#!/bin/sh
# builder_roundtrip.sh - save and restore through a real BuildKit.
#
# Three identities in one build, under BUILDKIT_CACHE_MOUNT_NS=e2e: two are
# filled with a tree of every kind of entry, the third stays empty. After
# save, `docker builder prune -af` and restore, the user's build must list
# the same trees: owners, modes, symlinks, hardlinks, mtimes (nanoseconds)
# and contents. The empty cache is not saved; a build without the namespace
# sees none of the data.
. "$(dirname "$0")/lib.sh"
e2e_init roundtrip

inspect_dockerfile "--mount=type=cache,id=rt-plain,target=/c/plain \
--mount=type=cache,id=rt-owned,target=/c/owned,uid=1000,gid=1000,mode=0750 \
--mount=type=cache,target=/c/unused" /c/plain /c/owned
NS="--build-arg BUILDKIT_CACHE_MOUNT_NS=e2e"

prune
ubuild $NS --build-arg ACTION=fill || fail "the fill build failed"
ubuild $NS || fail "the list build failed"
cp "$T/out/list" "$T/before"
check 'grep -q "hardlink: shared inode" "$T/before"' "the filled tree has no hardlink"
check 'grep -q "|1234:5678|640|1|2011-12-13 14:15:16.987654321" "$T/before"' "fill did not set owner/mtime"
pass "the user's build filled two caches"

bk save $NS || fail "save failed"
check 'grep -q "rt-plain: saved" "$T/bk.out"' "rt-plain was not saved"
check 'grep -q "rt-owned.*: saved" "$T/bk.out"' "rt-owned was not saved"
check 'grep -q "c-unused.*: empty\|unused.*empty" "$T/bk.out"' "the empty cache was not reported empty"
check '[ "$(ls "$T/store" | grep -c unused)" = 0 ]' "the empty cache was saved"
pass "save extracted two caches and skipped the empty one"

prune
bk restore $NS || fail "restore failed"
check 'grep -q "rt-plain: restored" "$T/bk.out"' "rt-plain was not restored"
check 'grep -q "rt-owned.*: restored" "$T/bk.out"' "rt-owned was not restored"
ubuild $NS || fail "the list build after restore failed"
same_list "$T/before" "the restored caches differ from the saved ones"
pass "after prune and restore the user's build sees identical trees"

ubuild || fail "the list build without the namespace failed"
check '! grep -q "a.txt" "$T/out/list"' "a build without BUILDKIT_CACHE_MOUNT_NS found the data"
pass "the namespace is part of the cache id"

bk restore $NS || fail "the second restore failed"
check 'grep -q "skipped" "$T/bk.out"' "restore into a warm cache did not skip"
bk restore $NS --force --mount rt-plain || fail "restore --force failed"
check 'grep -q "rt-plain: restored" "$T/bk.out"' "--force did not restore"
check '! grep -q "rt-owned" "$T/bk.out"' "--mount rt-plain also restored rt-owned"
pass "a warm cache is skipped unless --force; --mount limits identities"
e2e_done
