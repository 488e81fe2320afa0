#!/bin/sh
# image.sh ARCHIVE VERSION [NAME] - the container image NAME:VERSION and
# NAME:latest (NAME defaults to bkcache) from a release archive, with the
# local docker daemon.
#
# FROM scratch, with one layer: /bkcache, /bkcache-helper, the build
# machine's CA bundle at /etc/ssl/certs/ca-certificates.crt (so https stores
# work when the image is the job image) and an empty /tmp (mode 1777, where
# save and restore stage archives); ENTRYPOINT ["/bkcache"]. Meant as
# `COPY --from=bkcache:VERSION /bkcache /bkcache-helper /usr/local/bin/` in
# a Dockerfile as well. Run under the docker lock (mk/release.mk does).
set -eu
archive=$1 version=$2 name=${3:-bkcache}
DOCKER=${DOCKER:-docker}
ctx=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/etc/ssl/certs" "$ctx/root/tmp"
tar -C "$ctx/root" -xzf "$archive" bkcache bkcache-helper
cp /etc/ssl/certs/ca-certificates.crt "$ctx/root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$ctx/root/tmp"
# ADD unpacks a local tar with its modes, which COPY cannot give /tmp
tar -C "$ctx/root" --owner=0 --group=0 --numeric-owner -cf "$ctx/rootfs.tar" .
cat >"$ctx/Dockerfile" <<'DF'
FROM scratch
ADD rootfs.tar /
ENTRYPOINT ["/bkcache"]
DF
"$DOCKER" build -q -t "$name:$version" -t "$name:latest" \
  --label "org.opencontainers.image.version=$version" "$ctx" >/dev/null 2>"$ctx/build.err" || {
  cat "$ctx/build.err" >&2
  exit 1
}
echo "  IMAGE   $name:$version $name:latest ($("$DOCKER" image inspect -f '{{.Size}}' "$name:$version") bytes)"
