#!/bin/sh
# Install the Debian packages bkcache needs to build and test, only those missing.
# Called by every make target (through the build/.deps stamp), so a fresh
# Debian machine needs nothing by hand. Quiet when everything is present.
# libacl1-dev and liblz4-dev carry the static libraries bkcache-helper links;
# busybox-static is for the BuildKit tests and benchmark only.
set -e
want="pkg-config libcurl4-openssl-dev libcjson-dev libzstd-dev libyaml-dev \
libcmocka-dev libarchive-dev libssl-dev clang libclang-rt-14-dev zstd \
curl ca-certificates attr \
libacl1-dev liblz4-dev busybox-static"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bkcache: missing packages:$missing (run 'make deps' as root, or install them)" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
