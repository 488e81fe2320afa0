#!/bin/sh
# docker26.sh install|start|stop|env|status|run CMD... - a private Docker 26
# + buildx 0.13 stack with the containerd image store, beside any other Docker.
#
#   install  fetch Debian trixie's docker.io, docker-cli, docker-buildx,
#            containerd and docker-compose, and bookworm's runc (trixie's
#            needs a newer glibc), and unpack them with dpkg -x into
#            $PREFIX (default /opt/bkcache-docker26). apt reads trixie's
#            index through a private configuration under $PREFIX/apt:
#            nothing in /etc/apt changes and no system package is replaced.
#            Skipped when $PREFIX/VERSIONS exists.
#   start    install if needed, then start a containerd and a dockerd of
#            their own under $STATE (default /tmp/bkcache-docker26):
#              containerd: root, state and socket in $STATE/containerd
#              dockerd --containerd $STATE/containerd/containerd.sock
#                -H unix://$STATE/docker.sock --data-root --exec-root
#                --pidfile --iptables=false --ip-masq=false --bridge=none
#              daemon.json {"features":{"containerd-snapshotter":true}}
#              (DOCKER26_STORE=overlay2: the classic overlay2 graph driver
#              instead of the containerd image store)
#            and print the variables a shell needs to use it:
#              export DOCKER_HOST=unix://$STATE/docker.sock
#              export DOCKER_CONFIG=$STATE/config  (cli-plugins: buildx, compose)
#              export PATH=$PREFIX/usr/bin:$PATH   (its docker client)
#            `eval "$(scripts/docker26.sh start)"` in a shell, then docker,
#            docker buildx and docker compose talk to Docker 26.
#   stop     stop the dockerd, then the containerd, that start started.
#   env      print those exports again (no daemon is started).
#   status   exit 0 when the dockerd answers.
#   run CMD  start (unless it already runs), run CMD with the exports and
#            DOCKER=<its docker client>, stop what was started and delete
#            its $STATE (a fresh daemon each time, as on a CI runner; set
#            DOCKER26_KEEP=1 to keep it); CMD's status.
#
# Every build on it needs --network=none: the daemon has no bridge network.
# Set DOCKER26_PREFIX / DOCKER26_STATE to move the two directories. Needs
# root (dockerd does).
set -u
. "$(dirname "$0")/daemon-lib.sh"
PREFIX=${DOCKER26_PREFIX:-/opt/bkcache-docker26}
STATE=${DOCKER26_STATE:-${TMPDIR:-/tmp}/bkcache-docker26}
TRIXIE_PKGS="docker.io docker-cli docker-buildx containerd docker-compose"
BOOKWORM_PKGS="runc"
BIN="$PREFIX/usr/bin:$PREFIX/usr/sbin"

say() { echo "docker26: $*" >&2; }

# apt with a private sources list, index and cache (trixie only), so the
# system's apt configuration, pins and packages stay as they are.
private_apt() {
  a=$PREFIX/apt
  apt-get -q -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts="$a/empty" \
    -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a" -o Dir::Cache::archives="$a/archives" \
    -o Dir::Etc::Preferences="$a/empty/none" -o Dir::Etc::PreferencesParts="$a/empty" "$@"
}

install() {
  [ -s "$PREFIX/VERSIONS" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "installing into $PREFIX needs root"
    return 1
  fi
  say "installing Debian trixie's Docker 26 + buildx into $PREFIX"
  command -v apt-get >/dev/null || { say "needs apt-get (Debian)"; return 1; }
  # only ever delete a directory this script made (an interrupted install)
  if [ -d "$PREFIX" ] && [ -n "$(ls -A "$PREFIX")" ] && [ ! -e "$PREFIX/.bkcache-docker26" ]; then
    say "$PREFIX exists and was not made by docker26.sh: choose another DOCKER26_PREFIX"
    return 1
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX" && touch "$PREFIX/.bkcache-docker26" || return 1
  mkdir -p "$PREFIX/apt/lists/partial" "$PREFIX/apt/archives/partial" "$PREFIX/apt/empty" \
    "$PREFIX/debs" || return 1
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
    "http://deb.debian.org/debian trixie main" >"$PREFIX/apt/sources.list"
  private_apt update >"$PREFIX/apt/update.log" 2>&1 || {
    say "apt-get update of trixie's index failed:"
    tail -5 "$PREFIX/apt/update.log" >&2
    return 1
  }
  # apt-get download writes into the current directory, as the _apt user
  # when it can: let it.
  chown _apt "$PREFIX/debs" 2>/dev/null
  (cd "$PREFIX/debs" && private_apt download $TRIXIE_PKGS >"$PREFIX/apt/download.log" 2>&1 &&
    apt-get -q download $BOOKWORM_PKGS >>"$PREFIX/apt/download.log" 2>&1) || {
    say "apt-get download failed:"
    tail -5 "$PREFIX/apt/download.log" >&2
    return 1
  }
  for deb in "$PREFIX"/debs/*.deb; do
    dpkg -x "$deb" "$PREFIX" || return 1
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$PREFIX/VERSIONS.tmp"
  done
  rm -rf "$PREFIX/debs" "$PREFIX/apt/archives"
  mv "$PREFIX/VERSIONS.tmp" "$PREFIX/VERSIONS"
  sed 's/^/docker26:   /' "$PREFIX/VERSIONS" >&2
}

exports() {
  echo "export DOCKER_HOST=unix://$STATE/docker.sock"
  echo "export DOCKER_CONFIG=$STATE/config"
  echo "export PATH=$PREFIX/usr/bin:\$PATH"
}

with_env() {
  DOCKER_HOST=unix://$STATE/docker.sock DOCKER_CONFIG=$STATE/config PATH="$BIN:$PATH" "$@"
}

answers() {
  with_env "$PREFIX/usr/bin/docker" version >/dev/null 2>&1
}

start() {
  install || return 1
  if daemon_alive "$STATE/dockerd.started" && answers; then
    exports
    return 0
  fi
  mkdir -p "$STATE/containerd" "$STATE/config/cli-plugins" "$STATE/data" "$STATE/exec"
  touch "$STATE/.bkcache-docker26"
  for p in docker-buildx docker-compose; do
    ln -sf "$PREFIX/usr/libexec/docker/cli-plugins/$p" "$STATE/config/cli-plugins/$p"
  done
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$STATE/containerd/containerd.sock"
[ttrpc]
  address = "$STATE/containerd/containerd.sock.ttrpc"
[debug]
  address = "$STATE/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
EOF
  case ${DOCKER26_STORE:-containerd} in
  containerd) echo '{"features":{"containerd-snapshotter":true}}' >"$STATE/daemon.json" ;;
  overlay2) echo '{"storage-driver":"overlay2"}' >"$STATE/daemon.json" ;;
  *)
    say "DOCKER26_STORE: containerd or overlay2, not '$DOCKER26_STORE'"
    return 1
    ;;
  esac

  # The daemons outlive this script (setsid) and get none of its other file
  # descriptors: an inherited `flock` lock would be held for as long as
  # they run.
  PATH="$BIN:$PATH" setsid containerd --config "$STATE/containerd/config.toml" \
    >"$STATE/containerd.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$STATE/containerd.started"
  daemon_wait "$(cat "$STATE/containerd.started")" "$STATE/containerd.log" containerd \
    env PATH="$BIN:$PATH" ctr --address "$STATE/containerd/containerd.sock" version || {
    stop
    return 1
  }
  PATH="$BIN:$PATH" setsid dockerd --config-file "$STATE/daemon.json" \
    --containerd "$STATE/containerd/containerd.sock" -H "unix://$STATE/docker.sock" \
    --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
    --iptables=false --ip-masq=false --bridge=none >"$STATE/dockerd.log" 2>&1 </dev/null \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$STATE/dockerd.started"
  daemon_wait "$(cat "$STATE/dockerd.started")" "$STATE/dockerd.log" docker26 answers || {
    stop
    return 1
  }
  say "started dockerd $(with_env docker version --format '{{.Server.Version}}' 2>/dev/null)" \
    "(pid $(cat "$STATE/dockerd.started"), ${DOCKER26_STORE:-containerd} image store)" \
    "on unix://$STATE/docker.sock"
  exports
}

stop() {
  for d in dockerd containerd; do
    if daemon_alive "$STATE/$d.started"; then
      daemon_stop "$(cat "$STATE/$d.started")" "$d"
      say "stopped $d (pid $(cat "$STATE/$d.started"))"
    fi
    rm -f "$STATE/$d.started"
  done
}

# Delete $STATE (made by start) once nothing is mounted under it any more.
remove_state() {
  [ -e "$STATE/.bkcache-docker26" ] || return 0
  if grep -q " $STATE/" /proc/mounts 2>/dev/null; then
    say "left $STATE in place: something is still mounted under it"
    return 0
  fi
  rm -rf "$STATE"
}

run() {
  started=0
  if ! daemon_alive "$STATE/dockerd.started" || ! answers; then
    start >/dev/null || return 1
    started=1
  fi
  trap '[ $started -eq 0 ] || { stop; [ -n "${DOCKER26_KEEP:-}" ] || remove_state; }' EXIT
  trap 'exit 130' INT TERM
  export DOCKER="$PREFIX/usr/bin/docker"
  with_env "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
install) install ;;
start) start ;;
stop) stop ;;
env) exports ;;
status) answers ;;
run) run "$@" ;;
*)
  echo "usage: $0 install|start|stop|env|status|run CMD [ARG...]" >&2
  exit 2
  ;;
esac
