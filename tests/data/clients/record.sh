#!/bin/sh
# record.sh STACK DOCKER - record what a real docker client prints, for the
# unit tests of driver choice and error explanations (test_core_builder*.c).
#
# Run with DOCKER_HOST (and DOCKER_CONFIG for buildx) pointing at a running
# daemon, as root; writes tests/data/clients/STACK/<case>.txt, each file
# "rc=N" on its first line, then the client's stdout and stderr together
# (bkcache reads them through one pipe). Cases:
#   version            docker version --format '{{.Client.Version}}|{{.Server.Version}}'
#   build-help         DOCKER_BUILDKIT=1 docker build --help (first lines)
#   buildx-version     docker buildx version
#   buildx-inspect     docker buildx inspect (the current builder)
#   down-*             the same with DOCKER_HOST at a socket nobody listens on
#   tcpdown-version    docker version with DOCKER_HOST=tcp://127.0.0.1:9
#   denied-*           the same as user nobody (the socket is root's)
#   inactive-buildx-inspect   a docker-container builder never started
#   build-*            DOCKER_BUILDKIT=1 docker build of a FROM scratch
#                      Dockerfile: missing-exec (RUN of a file that does not
#                      exist), noexec (RUN of a file without x bit), ok
# Host-specific text (socket paths, temporary directories, build ids) is
# kept as the client printed it: tests match on the clients' fixed phrases.
# Usage:
#   eval "$(scripts/docker26.sh start)"
#   sh tests/data/clients/record.sh docker26 "$(command -v docker)"
set -u
STACK=$1
DOCKER=$2
out=$(dirname "$0")/$STACK
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rec() {
  name=$1
  shift
  "$@" >"$tmp/o" 2>&1
  rc=$?
  { echo "rc=$rc"; cat "$tmp/o"; } >"$out/$name.txt"
}
rec_head() {
  name=$1
  shift
  "$@" >"$tmp/o" 2>&1
  rc=$?
  { echo "rc=$rc"; head -12 "$tmp/o"; } >"$out/$name.txt"
}
as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups env HOME=/nonexistent "$@"; }
down() { env DOCKER_HOST=unix:///nonexistent/docker.sock "$@"; }

V="version --format {{.Client.Version}}|{{.Server.Version}}"
rec version "$DOCKER" $V
rec_head build-help env DOCKER_BUILDKIT=1 "$DOCKER" build --help
rec buildx-version "$DOCKER" buildx version
rec buildx-inspect "$DOCKER" buildx inspect
rec down-version down "$DOCKER" $V
rec down-buildx-inspect down "$DOCKER" buildx inspect
rec tcpdown-version env DOCKER_HOST=tcp://127.0.0.1:9 "$DOCKER" $V
mkdir -p "$tmp/ctx"
rec down-build down env DOCKER_BUILDKIT=1 "$DOCKER" build --network=none -q "$tmp/ctx"
orig_config=${DOCKER_CONFIG:-}
if [ -n "$orig_config" ]; then
  cp -r "$DOCKER_CONFIG" "$tmp/nobody-config"
  chmod -R a+rX "$tmp"
  export DOCKER_CONFIG="$tmp/nobody-config"
fi
chmod a+rx "$tmp"
rec denied-version as_nobody "$DOCKER" $V
rec denied-buildx-inspect as_nobody "$DOCKER" buildx inspect
printf 'FROM scratch\nRUN ["/bin/true"]\n' >"$tmp/ctx/Dockerfile"
rec denied-build as_nobody env DOCKER_BUILDKIT=1 "$DOCKER" build --network=none "$tmp/ctx"
[ -n "$orig_config" ] && export DOCKER_CONFIG="$orig_config"

if "$DOCKER" buildx version >/dev/null 2>&1; then
  "$DOCKER" buildx create --name bkcache-inactive --driver docker-container >/dev/null 2>&1
  rec inactive-buildx-inspect "$DOCKER" buildx inspect bkcache-inactive
  rec missing-buildx-inspect "$DOCKER" buildx inspect bkcache-no-such-builder
  "$DOCKER" buildx rm bkcache-inactive >/dev/null 2>&1
fi

build() { env DOCKER_BUILDKIT=1 "$DOCKER" build --network=none --progress=plain "$tmp/ctx"; }
printf 'FROM scratch\nRUN ["/bkcache-no-such-program"]\n' >"$tmp/ctx/Dockerfile"
rec build-missing-exec build
printf 'FROM scratch\nCOPY notexec /x\nRUN ["/x"]\n' >"$tmp/ctx/Dockerfile"
printf '#!/bin/sh\n' >"$tmp/ctx/notexec"
chmod 644 "$tmp/ctx/notexec"
rec build-noexec build
rm -f "$tmp/ctx/notexec"
printf 'FROM scratch\nCOPY Dockerfile /\n' >"$tmp/ctx/Dockerfile"
rec build-ok build
ls "$out"
