#!/bin/sh
# builder_corrupt.sh - a corrupt archive never reaches the builder.
#
# The saved archive (a plain one, --delta off: the store checks layer
# blobs itself, tests/e2e/dirmode_delta.sh) is damaged in the store (bytes
# flipped in its data, then truncated). restore must refuse it before
# starting any build (the docker client is wrapped to log every call: the
# driver's probes, such as `buildx version` and `buildx inspect`, are
# expected; `build` and `buildx build` are not), leave the cache empty,
# say why, and exit 0 (1 with --fail-on-error).
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
check '[ -s "$T/docker.calls" ]' "restore did not run the wrapped docker client"
check '! started_build' "a build was started with a corrupt archive: $(cat "$T/docker.calls")"
BK_DOCKER="$T/docker" bk restore --fail-on-error
rc=$?
check '[ $rc -eq 1 ]' "restore --fail-on-error of a corrupt archive exited $rc, expected 1"
ubuild || fail "the list build failed"
check '! grep -q "a.txt" "$T/out/list"' "the cache holds data after a corrupt restore"
pass "a damaged archive is refused before any build and the cache stays empty"

# a truncated archive too
head -c $((size / 3)) "$archive" >"$T/short" && cp "$T/short" "$archive"
rm -f "$T/docker.calls"
BK_DOCKER="$T/docker" bk restore
check '[ -s "$T/docker.calls" ]' "restore did not run the wrapped docker client"
check '! started_build' "a build was started with a truncated archive: $(cat "$T/docker.calls")"
pass "a truncated archive is refused before any build"
e2e_done
