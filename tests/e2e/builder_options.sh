#!/bin/sh
# builder_options.sh - the mount options decide which cache the data lands in.
#
# A cache mounted with uid=1000,gid=1000,mode=0700 is a different cache from
# the same id without them (BuildKit keys the cache by its base layer). The
# restored data must land in the cache the user's build reads, with the
# mount root owned 1000:1000 mode 0700; and a transfer with other options
# (the same id, no uid/gid/mode) must not be seen by the user's build.
. "$(dirname "$0")/lib.sh"
e2e_init options

write_dockerfile() { # $1: the cache mount options after id=opts,target=/c
  inspect_dockerfile "--mount=type=cache,id=opts,target=/c$1" /c
}

write_dockerfile ",uid=1000,gid=1000,mode=0700"
prune
ubuild --build-arg ACTION=fill || fail "the fill build failed"
bk save || fail "save failed"
check 'grep -q ": saved" "$T/bk.out"' "nothing was saved"
prune
bk restore || fail "restore failed"
check 'grep -q ": restored" "$T/bk.out"' "nothing was restored"
ubuild || fail "the list build failed"
check 'grep -q "^\.|directory|1000:1000|700|" "$T/out/list"' \
  "the mount root is not 1000:1000 0700: $(grep '^\.|' "$T/out/list")"
check 'grep -q "a.txt" "$T/out/list"' "the user's uid=1000 build does not see the restored data"
pass "restored data lands in the uid/gid/mode cache the user's build reads"

# the same id without the options is another cache
write_dockerfile ""
ubuild || fail "the list build without options failed"
check '! grep -q "a.txt" "$T/out/list"' "the cache without uid/gid/mode holds the data"
pass "the same id without uid/gid/mode is a different, empty cache"

# a transfer with other options: fill the option-less cache, then the
# user's uid=1000 build must not see it
prune
write_dockerfile ""
ubuild --build-arg ACTION=fill || fail "the option-less fill failed"
write_dockerfile ",uid=1000,gid=1000,mode=0700"
ubuild || fail "the uid=1000 list build failed"
check '! grep -q "a.txt" "$T/out/list"' "data written without the options reached the uid=1000 cache"
pass "a transfer with other options would not reach the user's cache"
e2e_done
