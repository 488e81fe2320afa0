#!/bin/sh
# run.sh - make test-release: the release archives and their binaries.
#
# Without docker:
#   - each archive holds exactly bkcache and bkcache-helper, and matches
#     SHA256SUMS; `file` calls both binaries statically linked;
#   - amd64 prints its version natively; arm64 under qemu-aarch64-static
#     (version and a plan).
# Then, under the docker lock and with a daemon (scripts/with-dockerd.sh),
# tests/release/scratch.sh runs the amd64 binary in FROM scratch containers.
#
# Env: DIST (dist), VERSION (git describe), RELEASE_ARCHES (amd64 arm64).
# Prints one ok/FAIL line per test and "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIST=${DIST:-$ROOT/dist}
VERSION=${VERSION:-$(git -C "$ROOT" describe --tags --always --dirty)}
RELEASE_ARCHES=${RELEASE_ARCHES:-amd64 arm64}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-release-test.XXXXXX")
pids=""
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
. "$ROOT/tests/objectstore/lib.sh"

for a in $RELEASE_ARCHES; do
    mkdir -p "$TMP/$a"
    tar -C "$TMP/$a" -xzf "$DIST/bkcache-$VERSION-linux-$a.tar.gz" || exit 1
done

archives_hold_two_files_and_match_the_sums() {
    for a in $RELEASE_ARCHES; do
        [ "$(tar -tzf "$DIST/bkcache-$VERSION-linux-$a.tar.gz" | sort | tr '\n' ' ')" = \
            "bkcache bkcache-helper " ]
        grep -q "^[0-9a-f]\{64\}  bkcache-$VERSION-linux-$a.tar.gz\$" "$DIST/SHA256SUMS"
    done
    (cd "$DIST" && sha256sum -c --strict SHA256SUMS)
    [ "$(wc -l <"$DIST/SHA256SUMS")" -eq "$(echo $RELEASE_ARCHES | wc -w)" ]
}

binaries_are_static() {
    for a in $RELEASE_ARCHES; do
        for b in bkcache bkcache-helper; do
            file -b "$TMP/$a/$b"
            file -b "$TMP/$a/$b" | grep -q 'statically linked'
            ! file -b "$TMP/$a/$b" | grep -q 'interpreter'
        done
    done
    file -b "$TMP/amd64/bkcache" | grep -q 'x86-64'
    case " $RELEASE_ARCHES " in *" arm64 "*) file -b "$TMP/arm64/bkcache" | grep -q 'aarch64' ;; esac
}

amd64_runs_natively() {
    [ "$("$TMP/amd64/bkcache" version)" = "bkcache $VERSION" ]
}

arm64_runs_under_qemu() {
    q=$(command -v qemu-aarch64-static)
    [ "$("$q" "$TMP/arm64/bkcache" version)" = "bkcache $VERSION" ]
    mkdir -p "$TMP/q"
    "$q" "$TMP/arm64/bkcache" plan -f "$ROOT/examples/Dockerfile" --provider local \
        --store "$TMP/q/store" --dir "$TMP/q/caches" >"$TMP/q/plan.out"
    cat "$TMP/q/plan.out"
    grep -q '^gomod$' "$TMP/q/plan.out"
}

t archives_hold_two_files_and_match_the_sums archives_hold_two_files_and_match_the_sums
t binaries_are_static binaries_are_static
t amd64_runs_natively amd64_runs_natively
case " $RELEASE_ARCHES " in
*" arm64 "*) t arm64_runs_under_qemu arm64_runs_under_qemu ;;
esac
echo "$pass passed, $fail failed (archives)"

# the servers scratch.sh needs, installed before taking the docker lock
objectstore_npm_ci "$ROOT/tests/objectstore" || exit 1
flock /tmp/bkcache-docker.lock sh "$ROOT/scripts/with-dockerd.sh" \
    env BIN="$TMP/amd64" VERSION="$VERSION" ARCHIVE="$DIST/bkcache-$VERSION-linux-amd64.tar.gz" sh "$HERE/scratch.sh" || fail=$((fail + 1))
[ "$fail" -eq 0 ]
