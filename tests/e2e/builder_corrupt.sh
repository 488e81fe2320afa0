#!/bin/sh
# builder_corrupt.sh - a corrupt archive never gets into a cache.
#
# The saved archive (a plain one, --delta off: the store checks layer
# blobs itself, tests/e2e/dirmode_delta.sh) is damaged in the store.
# - Bytes flipped inside its compressed data: the framing still holds, so
#   the host lets it go to the build, where the helper's unpack verifies
#   every frame's checksum before it swaps anything in. restore must say
#   it is corrupt and leave the cache empty; with no other entry that is a
#   miss (exit 0, also with --fail-on-error; 1 with --fail-on-cache-miss);
#   a cache that held data keeps it (--force).
# - The newest of two runs damaged: restore falls back to the older one.
# - Truncated: refused on the host before any build starts (the docker
#   client is wrapped to log every call: the driver's probes, such as
#   `buildx version` and `buildx inspect`, are expected; `build` and
#   `buildx build` are not).
. "$(dirname "$0")/lib.sh"
e2e_init corrupt

inspect_dockerfile "--mount=type=cache,id=corrupt-me,target=/c" /c
cat >"$T/docker" <<WRAP
#!/bin/sh
echo "\$*" >>"$T/docker.calls"
exec $DOCKER "\$@"
WRAP
chmod +x "$T/docker"
# started_build: the wrapper logged a `docker build` or `docker buildx build`
started_build() {
  grep -Eq '^(buildx )?build( |$)' "$T/docker.calls" 2>/dev/null
}

prune
ubuild --build-arg ACTION=fill || fail "the fill build failed"
bk save --delta off || fail "save failed"
archive=$(find "$T/store" -name '*.tar.zst' | head -1)
check '[ -n "$archive" ]' "no archive in the store"
size=$(stat -c %s "$archive")
# flip 16 bytes in the compressed data (the end of the stream; the first
# frames hold the manifest and padding)
printf '%016d' 0 | dd of="$archive" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
prune

BK_DOCKER="$T/docker" bk restore
rc=$?
check '[ $rc -eq 0 ]' "restore of a corrupt archive exited $rc, expected 0"
check 'grep -qi "corrupt" "$T/bk.err" "$T/bk.out"' "restore did not say the archive is corrupt"
check 'started_build' "restore did not start the transfer build: $(cat "$T/docker.calls")"
check 'grep -q "in the builder: .*corrupt" "$T/bk.err"' "the refusal does not come from the helper's unpack"
check 'grep -q "looking for another entry" "$T/bk.err"' \
  "restore did not go on looking after the refusal: $(cat "$T/bk.err")"
BK_DOCKER="$T/docker" bk restore --fail-on-error
rc=$?
check '[ $rc -eq 0 ]' "restore --fail-on-error of a corrupt archive (a miss) exited $rc, expected 0"
BK_DOCKER="$T/docker" bk restore --fail-on-cache-miss
rc=$?
check '[ $rc -eq 1 ]' "restore --fail-on-cache-miss of a corrupt archive exited $rc, expected 1"
ubuild || fail "the list build failed"
check '! grep -q "a.txt" "$T/out/list"' "the cache holds data after a corrupt restore"
pass "a damaged archive is refused by the helper and the cache stays empty"

# a cache that holds other data keeps it when --force brings a damaged archive
ubuild --build-arg ACTION=fill && ubuild --build-arg ACTION=change ||
  fail "the builds that give the cache data of its own failed"
bk restore --force
rc=$?
check '[ $rc -eq 0 ]' "restore --force of a corrupt archive exited $rc, expected 0"
check 'grep -qi "corrupt" "$T/bk.err" "$T/bk.out"' "restore --force did not say the archive is corrupt"
ubuild || fail "the list build failed"
check 'grep -q "new.txt" "$T/out/list"' "the cache lost its data to a corrupt restore: $(cat "$T/out/list")"
pass "a damaged archive leaves a cache's own data in place"

# a truncated archive too
head -c $((size / 3)) "$archive" >"$T/short" && cp "$T/short" "$archive"
rm -f "$T/docker.calls"
prune
BK_DOCKER="$T/docker" bk restore
check '[ -s "$T/docker.calls" ]' "restore did not run the wrapped docker client"
check '! started_build' "a build was started with a truncated archive: $(cat "$T/docker.calls")"
pass "a truncated archive is refused before any build"

# the newest of two runs of the key damaged: the older run is restored
rm -rf "$T/store"
prune
ubuild --build-arg ACTION=fill && bk save --delta off || fail "the first save failed"
ubuild --build-arg ACTION=change && bk save --delta off || fail "the second save failed"
# shellcheck disable=SC2046 # the store's archives, newest first
newest=$(ls -t $(find "$T/store" -name '*.tar.zst') | head -1)
check '[ "$(find "$T/store" -name "*.tar.zst" | wc -l)" -eq 2 ]' "expected two runs in the store"
nsize=$(stat -c %s "$newest")
printf '%016d' 0 | dd of="$newest" bs=1 seek=$((nsize - 40)) conv=notrunc 2>/dev/null
prune
bk restore
rc=$?
check '[ $rc -eq 0 ]' "restore with a damaged newest run exited $rc, expected 0"
check 'grep -q "looking for another entry" "$T/bk.err"' "restore did not fall back: $(cat "$T/bk.err")"
check 'grep -q "restored" "$T/bk.out"' "restore did not restore the older run: $(cat "$T/bk.out")"
ubuild || fail "the list build failed"
check 'grep -q "a.txt" "$T/out/list" && ! grep -q "new.txt" "$T/out/list"' \
  "the cache does not hold the older run: $(cat "$T/out/list")"
pass "a damaged newest run falls back to the older run"
e2e_done
