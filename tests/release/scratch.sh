#!/bin/sh
# scratch.sh - the static amd64 binary inside FROM scratch containers: no
# libc, no NSS, no CA bundle, no shell. Run by tests/release/run.sh under
# the docker lock, with a daemon up.
#
# An image holding only /bkcache, /bkcache-helper and examples/Dockerfile
# runs `version` and `plan`, then saves and restores examples/Dockerfile's
# caches (--dir mode) in s3rver over HTTPS:
#
#   bkcache (container, --network host) --https--> tls-front.js (a CA made
#   by certs.sh) --> the fault proxy, checking every SigV4 --> s3rver
#
# The store's host name, s3.bkcache.test, exists only in the container's
# /etc/hosts (--add-host): resolving it is musl's resolver at work. The CA
# comes from SSL_CERT_FILE. Without it the save fails with the one-line
# "no CA certificate bundle found" error; with an unrelated CA it fails
# verification.
#
# The servers come from tests/objectstore (run.sh installs them first).
# Then the image of scripts/release/image.sh (its own /tmp and CA bundle)
# saves and restores the same way.
#
# Env: BIN (directory with the amd64 bkcache and bkcache-helper), VERSION,
# ARCHIVE (the amd64 release archive, for the image test).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OS=$ROOT/tests/objectstore
DOCKER=${DOCKER:-docker}
IMG=bkcache-release-test:scratch
IMG2=bkcache-release-test-image
HOST=s3.bkcache.test
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-scratch.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    "$DOCKER" image rm -f "$IMG" "$IMG2:${VERSION:-x}" "$IMG2:latest" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$OS/lib.sh"

export NODE_PATH=$OS/node_modules
sh "$HERE/certs.sh" "$TMP/certs" "$HOST" || exit 1

mkdir -p "$TMP/s3rver"
start_server "$TMP/s3rver.log" node --openssl-legacy-provider \
    "$OS/node_modules/s3rver/bin/s3rver.js" -d "$TMP/s3rver" -a 127.0.0.1 -p 0 \
    --configure-bucket bk
s3port=$(server_port s3rver "$TMP/s3rver.log") || exit 1
KEYS=S3RVER:S3RVER:release-test-token
start_server "$TMP/proxy.log" node "$ROOT/tests/emulators/faultproxy/proxy.js" \
    --upstream "http://127.0.0.1:$s3port" --verify-sigv4 "$KEYS"
S3P=$(server_port faultproxy "$TMP/proxy.log") || exit 1
start_server "$TMP/tls.log" node "$HERE/tls-front.js" --cert "$TMP/certs/server.pem" \
    --key "$TMP/certs/server.key" --upstream "127.0.0.1:$S3P"
TLSP=$(server_port tls-front "$TMP/tls.log") || exit 1

# the image: the two binaries and the Dockerfile whose caches are saved
mkdir -p "$TMP/ctx"
cp "$BIN/bkcache" "$BIN/bkcache-helper" "$ROOT/examples/Dockerfile" "$TMP/ctx/"
printf 'FROM scratch\nCOPY bkcache bkcache-helper /\nCOPY Dockerfile /src/Dockerfile\nENTRYPOINT ["/bkcache"]\n' \
    >"$TMP/ctx/Dockerfile.image"
"$DOCKER" build -q -f "$TMP/ctx/Dockerfile.image" -t "$IMG" "$TMP/ctx" >/dev/null 2>"$TMP/build.err" || {
    cat "$TMP/build.err"
    exit 1
}

# in IMG with the work directory /w (TMP/w) and the store's name and keys
W=$TMP/w
mkdir -p "$W"
cp "$TMP/certs/ca.pem" "$TMP/certs/other-ca.pem" "$ROOT/examples/Dockerfile" "$W/"
run() {
    "$DOCKER" run --rm --network host --add-host "$HOST:127.0.0.1" -v "$W:/w" -e TMPDIR=/w \
        -e AWS_ACCESS_KEY_ID=S3RVER -e AWS_SECRET_ACCESS_KEY=S3RVER \
        -e AWS_SESSION_TOKEN=release-test-token "$@"
}
S3="--store s3://bk/release --store-opt endpoint=https://$HOST:$TLSP"

scratch_version() {
    [ "$(run "$IMG" version)" = "bkcache $VERSION" ]
}

scratch_plan() {
    run "$IMG" plan -f /src/Dockerfile $S3 --dir /w/plan >"$TMP/plan.out"
    cat "$TMP/plan.out"
    grep -q '^gomod$' "$TMP/plan.out"
    grep -q 's3' "$TMP/plan.out"
}

# fill DIR: a tree per cache of examples/Dockerfile with incompressible data
fill() {
    for n in $(grep -E '^[A-Za-z0-9._-]+$' "$TMP/plan.out"); do
        mkdir -p "$1/$n/sub"
        echo "cache $n" >"$1/$n/sub/a.txt"
        head -c 300000 /dev/urandom >"$1/$n/blob.bin"
    done
}

scratch_s3_over_tls_round_trip() {
    [ -s "$TMP/plan.out" ] || run "$IMG" plan -f /src/Dockerfile $S3 --dir /w/plan >"$TMP/plan.out"
    rm -rf "$W/src" "$W/dst"
    fill "$W/src"
    run -e SSL_CERT_FILE=/w/ca.pem "$IMG" save -f /src/Dockerfile $S3 --dir /w/src \
        --state /w/s1.json --fail-on-error
    run -e SSL_CERT_FILE=/w/ca.pem "$IMG" restore -f /src/Dockerfile $S3 --dir /w/dst \
        --state /w/s2.json --fail-on-cache-miss --fail-on-error
    diff -r -x .bkcache-base "$W/src" "$W/dst"
    # it went through the TLS front and the SigV4 check to s3rver
    [ "$(count_log "$S3P" PUT '/bk/release/')" -ge 2 ]
}

scratch_no_ca_bundle_is_one_clear_line() {
    rm -rf "$W/src" && fill "$W/src"
    set +e
    run "$IMG" save -f /src/Dockerfile $S3 --dir /w/src --state /w/s3.json --fail-on-error \
        2>"$TMP/noca.err"
    rc=$?
    set -e
    cat "$TMP/noca.err"
    [ "$rc" -ne 0 ]
    grep -q "no CA certificate bundle found for https (looked in .*/etc/ssl/certs/ca-certificates.crt" \
        "$TMP/noca.err"
    grep -q "set SSL_CERT_FILE" "$TMP/noca.err"
    # and a named bundle that is missing says so
    set +e
    run -e SSL_CERT_FILE=/w/nope.pem "$IMG" save -f /src/Dockerfile $S3 --dir /w/src \
        --state /w/s3.json --fail-on-error 2>"$TMP/noca2.err"
    rc=$?
    set -e
    cat "$TMP/noca2.err"
    [ "$rc" -ne 0 ]
    grep -q "SSL_CERT_FILE=/w/nope.pem: cannot read the CA bundle" "$TMP/noca2.err"
}

scratch_wrong_ca_fails_verification() {
    rm -rf "$W/src" && fill "$W/src"
    set +e
    run -e SSL_CERT_FILE=/w/other-ca.pem "$IMG" save -f /src/Dockerfile $S3 --dir /w/src \
        --state /w/s4.json --fail-on-error 2>"$TMP/wrong.err"
    rc=$?
    set -e
    cat "$TMP/wrong.err"
    [ "$rc" -ne 0 ]
    grep -qi "certificate" "$TMP/wrong.err"
}

# the image `make image` builds: its own /tmp and CA bundle are enough
image_saves_and_restores() {
    sh "$ROOT/scripts/release/image.sh" "$ARCHIVE" "$VERSION" "$IMG2"
    [ "$("$DOCKER" run --rm "$IMG2:$VERSION" version)" = "bkcache $VERSION" ]
    rm -rf "$W/src" "$W/dst" && fill "$W/src"
    img() {
        "$DOCKER" run --rm --network host --add-host "$HOST:127.0.0.1" -v "$W:/w" \
            -e AWS_ACCESS_KEY_ID=S3RVER -e AWS_SECRET_ACCESS_KEY=S3RVER \
            -e AWS_SESSION_TOKEN=release-test-token "$@"
    }
    img -e SSL_CERT_FILE=/w/ca.pem "$IMG2" save -f /w/Dockerfile $S3 --key-prefix img \
        --dir /w/src --state /w/i1.json --fail-on-error
    img -e SSL_CERT_FILE=/w/ca.pem "$IMG2" restore -f /w/Dockerfile $S3 --key-prefix img \
        --dir /w/dst --state /w/i2.json --fail-on-cache-miss --fail-on-error
    diff -r -x .bkcache-base "$W/src" "$W/dst"
    # without SSL_CERT_FILE the image's own bundle is used (and rejects the test CA)
    set +e
    img "$IMG2" restore -f /w/Dockerfile $S3 --key-prefix img --dir /w/dst \
        --state /w/i3.json --fail-on-error 2>"$TMP/img.err"
    rc=$?
    set -e
    cat "$TMP/img.err"
    [ "$rc" -ne 0 ]
    ! grep -q "no CA certificate bundle" "$TMP/img.err"
    grep -qi "certificate" "$TMP/img.err"
}

t scratch_version scratch_version
t scratch_plan scratch_plan
t scratch_s3_over_tls_round_trip scratch_s3_over_tls_round_trip
t scratch_no_ca_bundle_is_one_clear_line scratch_no_ca_bundle_is_one_clear_line
t scratch_wrong_ca_fails_verification scratch_wrong_ca_fails_verification
[ -n "${ARCHIVE:-}" ] && t image_saves_and_restores image_saves_and_restores
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed (FROM scratch)"
[ "$fail" -eq 0 ]
