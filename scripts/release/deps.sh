#!/bin/sh
# deps.sh [ARCH...] - the Debian packages the release build needs, only
# those missing, and the deb-src entries `apt-get source` needs.
#
#   musl-tools         musl and musl-gcc (amd64)
#   gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static
#                      arm64: the cross compiler (musl itself is built from
#                      Debian's source), kernel headers, and the smoke test
#   dpkg-dev           dpkg-source, which `apt-get source` unpacks with
#   autoconf automake libtool
#                      Debian's patches touch configure.ac and Makefile.am,
#                      so libarchive and curl are autoreconf'ed as Debian does
#   file               the "statically linked" check
set -eu
want="musl-tools dpkg-dev autoconf automake libtool make perl file ca-certificates"
for a in "$@"; do
  case "$a" in arm64) want="$want gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static" ;; esac
done
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "release: missing packages:$missing (run as root, or install them)" >&2
    exit 1
  fi
  echo "release: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
exec sh "$(dirname "$0")/apt-sources.sh"
