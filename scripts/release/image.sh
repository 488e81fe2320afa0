#!/bin/sh
# image.sh ARCHIVE VERSION - the container image bkcache:VERSION (and
# bkcache:latest) from a release archive, with the local docker daemon.
#
# FROM scratch: /bkcache, /bkcache-helper and the CA bundle of the build
# machine's ca-certificates at /etc/ssl/certs/ca-certificates.crt, so https
# stores work when the image is the job image; ENTRYPOINT ["/bkcache"].
# Meant as `COPY --from=bkcache:VERSION /bkcache /usr/local/bin/` in a
# Dockerfile as well. Run under the docker lock (mk/release.mk does).
set -eu
archive=$1 version=$2
DOCKER=${DOCKER:-docker}
ctx=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
tar -C "$ctx" -xzf "$archive" bkcache bkcache-helper
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
cat >"$ctx/Dockerfile" <<'DF'
FROM scratch
COPY bkcache bkcache-helper /
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/bkcache"]
DF
"$DOCKER" build -q -t "bkcache:$version" -t bkcache:latest \
  --label "org.opencontainers.image.version=$version" "$ctx" >/dev/null
echo "  IMAGE   bkcache:$version bkcache:latest ($("$DOCKER" image inspect -f '{{.Size}}' "bkcache:$version") bytes)"
