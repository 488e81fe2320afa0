#!/bin/sh
# with-dockerd.sh [--optional] CMD [ARG...] - run CMD with a docker daemon.
#
# Makes sure Debian's docker client (/usr/bin/docker, from docker.io) is
# installed and a daemon answers; when none does, starts
#   dockerd --iptables=false --ip-masq=false --bridge=none
# in the background (log in a temporary file), waits for it, runs CMD, and
# stops the daemon it started afterwards. A daemon that was already running
# is left alone. CMD's exit status is returned.
#
# --optional: when docker cannot be installed or started, run CMD anyway
# (make demo then falls back to directory mode and says so); without it,
# that is an error (make test-e2e).
set -u
. "$(dirname "$0")/daemon-lib.sh"
optional=0
if [ "${1:-}" = "--optional" ]; then optional=1; shift; fi
DOCKER=${DOCKER:-/usr/bin/docker}
started=""
log=$(mktemp "${TMPDIR:-/tmp}/bkcache-dockerd-XXXXXX.log")

cleanup() {
  if [ -n "$started" ]; then
    daemon_stop "$started" dockerd
    echo "dockerd: stopped the daemon started for this run (pid $started)"
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_install=0
[ -x "$DOCKER" ] || need_install=1
command -v dockerd >/dev/null 2>&1 || need_install=1
if [ $need_install -eq 1 ] && [ "$(id -u)" = 0 ]; then
  echo "dockerd: installing Debian's docker.io"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io \
    >/dev/null 2>&1 || echo "dockerd: cannot install docker.io" >&2
fi

if [ -x "$DOCKER" ] && ! "$DOCKER" version >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
  echo "dockerd: no daemon answers; starting one (--iptables=false --ip-masq=false --bridge=none)"
  dockerd --iptables=false --ip-masq=false --bridge=none >"$log" 2>&1 &
  started=$!
  if ! daemon_wait "$started" "$log" dockerd "$DOCKER" version; then
    daemon_stop "$started" dockerd
    started=""
  fi
fi

if ! [ -x "$DOCKER" ] || ! "$DOCKER" version >/dev/null 2>&1; then
  echo "dockerd: no docker daemon is available" >&2
  [ $optional -eq 1 ] || exit 1
fi
"$@"
