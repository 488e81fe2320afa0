#!/bin/sh
# run.sh - make test-objectstore: the s3 and azblob providers against real
# servers on loopback, with faults injected by tests/emulators/faultproxy.
#
#   s3:     s3rver (stores objects; does not check SigV4) behind the fault
#           proxy, which verifies every signature with the AWS SDK's signer
#   azblob: Azurite (blob service; checks Shared Key and SAS itself) behind
#           the fault proxy
#
# Needs node and npm; installs tests/objectstore/package-lock.json with
# `npm ci` when node_modules does not match it. Everything runs in a temp
# directory and on 127.0.0.1; servers are stopped on exit. Prints one
# "ok/FAIL" line per test and ends with "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DRIVER=${DRIVER:-$ROOT/build/tests/objectstore/driver}
BKCACHE=${BKCACHE:-$ROOT/bkcache}
PROXY=$ROOT/tests/emulators/faultproxy/proxy.js
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-objectstore.XXXXXX")
pids=""

cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$HERE/lib.sh"
. "$HERE/s3.sh"
[ -f "$HERE/azblob.sh" ] && . "$HERE/azblob.sh"
[ -f "$HERE/cli.sh" ] && . "$HERE/cli.sh"

# ---- npm dependencies, installed once per lock file ----
objectstore_npm_ci "$HERE" || {
    echo "0 passed, 1 failed"
    exit 1
}
export NODE_PATH=$HERE/node_modules

# ---- servers ----
mkdir -p "$TMP/s3rver" "$TMP/azurite"
# s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider
start_server "$TMP/s3rver.log" node --openssl-legacy-provider \
    "$HERE/node_modules/s3rver/bin/s3rver.js" -d "$TMP/s3rver" -a 127.0.0.1 -p 0 \
    --configure-bucket bk
s3port=$(server_port s3rver "$TMP/s3rver.log") || exit 1
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_SESSION_TOKEN="FwoGZXIvYXdzEBk/session+token=="
unset AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_PROFILE
start_server "$TMP/proxy-s3.log" node "$PROXY" --upstream "http://127.0.0.1:$s3port" \
    --verify-sigv4 "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY:$AWS_SESSION_TOKEN"
S3P=$(server_port faultproxy-s3 "$TMP/proxy-s3.log") || exit 1

if command -v start_azurite >/dev/null 2>&1; then
    start_azurite || exit 1
fi

# ---- tests ----
run_s3_suite
command -v run_azblob_suite >/dev/null 2>&1 && run_azblob_suite
command -v run_cli_suite >/dev/null 2>&1 && run_cli_suite

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
