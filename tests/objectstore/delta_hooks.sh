# delta_hooks.sh - hooks for tests/delta/run_cases.sh on an object store (s3 or azblob,
# behind the fault proxy): the fault proxy's log counts the blobs the server stored (PUTs
# of PREFIX/blobs/sha256/<hex> answered 2xx), and the vtable driver removes a blob or
# overwrites it with other bytes of the same size: these stores keep a blob as the entry
# bkcache-.blob-sha256-<hex> (core/store/store_blob.c), the object blobs/sha256/<hex>. Set by cli.sh: DRIVER, DELTA_OS_PORT
# (the proxy), DELTA_OS_RE (the store's path in URLs), DELTA_OS_DRIVER (the driver's store
# options, one string).
# shellcheck shell=bash
# shellcheck source=tests/objectstore/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2086
delta_drv() { "$DRIVER" $DELTA_OS_DRIVER "$@"; }
delta_blobs() { count_stored "$DELTA_OS_PORT" "${DELTA_OS_RE}blobs/sha256/[0-9a-f]{64}(\\?|\$)"; }
delta_drop() { delta_drv remove "bkcache-.blob-sha256-$1"; }
delta_corrupt() {
  head -c "$DELTA_BASE_SIZE" /dev/urandom >"$DELTA_WORK/garbage"
  delta_drv upload "bkcache-.blob-sha256-$1" "$DELTA_WORK/garbage"
}
