# daemon-lib.sh - sourced by scripts/with-dockerd.sh and scripts/docker26.sh:
# start a daemon in the background, wait for it to answer, stop it.
#
#   daemon_wait PID LOG WHAT CMD...   poll CMD (every 0.2 s, 60 s at most)
#                                     until it succeeds; 1 when the daemon
#                                     PID died or never answered (the last
#                                     lines of LOG go to stderr)
#   daemon_stop PID WHAT              SIGTERM, wait up to 20 s, then SIGKILL
#   daemon_alive PIDFILE              0 when PIDFILE names a live process
# Messages start with "WHAT:" so the caller's output says which daemon.

daemon_wait() {
  _pid=$1 _log=$2 _what=$3
  shift 3
  _i=0
  until "$@" >/dev/null 2>&1; do
    _i=$((_i + 1))
    if [ $_i -gt 300 ] || ! kill -0 "$_pid" 2>/dev/null; then
      echo "$_what: the daemon did not come up:" >&2
      tail -20 "$_log" >&2
      return 1
    fi
    sleep 0.2
  done
  return 0
}

daemon_stop() {
  _pid=$1 _what=$2
  kill "$_pid" 2>/dev/null || return 0
  _i=0
  while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 100 ]; do
    sleep 0.2
    _i=$((_i + 1))
  done
  if kill -0 "$_pid" 2>/dev/null; then
    echo "$_what: pid $_pid did not stop in 20 s; killing it" >&2
    kill -9 "$_pid" 2>/dev/null
  fi
  return 0
}

daemon_alive() {
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}
