#!/bin/sh
# fake-bkcache.sh - stands in for bkcache in the wrapper tests: records its arguments and
# whether the runtime credentials reached it (in $FAKE_LOG), and prints a --json summary of
# the shape `bkcache restore|save --json` prints. FAKE_HITS=exact makes every mount an exact
# hit; otherwise one mount is a partial hit. FAKE_EXIT sets the exit status. With
# FAKE_REAL_MOUNTS=<bkcache>, `mounts` runs the real command.
{
  printf 'argv: %s\n' "$*"
  [ -n "$ACTIONS_RUNTIME_TOKEN" ] && echo "env: token"
  [ -n "$ACTIONS_RESULTS_URL" ] && echo "env: results-url"
} >>"$FAKE_LOG"
second=partial
[ "$FAKE_HITS" = exact ] && second=exact
case "$1" in
mounts)
  [ -n "${FAKE_REAL_MOUNTS:-}" ] && exec "$FAKE_REAL_MOUNTS" "$@"
  printf '[{"id":"go-build","target":"/root/.cache/go-build","name":"go-build"},'
  printf '{"id":"/var/cache/apt","target":"/var/cache/apt","name":"var-cache-apt-12233602"}]\n'
  ;;
restore)
  printf '{"identities":[{"name":"go-build","key":"bk-go-build-1a2b","matched_key":"bk-go-build-1a2b","hit":"exact","bytes":52428800,"files":1200,"seconds":2.4},'
  printf '{"name":"apt","key":"bk-apt-3c4d","matched_key":"bk-apt-0000","hit":"%s","bytes":1048576,"files":40,"seconds":0.3}]}\n' "$second"
  ;;
save)
  printf '{"identities":[{"name":"go-build","key":"bk-go-build-1a2b","action":"skipped","reason":"restored with the same digest, not uploaded again","bytes":52428800,"seconds":0.2},'
  printf '{"name":"apt","key":"bk-apt-3c4d","action":"saved","bytes":1048576,"seconds":0.9}]}\n'
  ;;
esac
exit "${FAKE_EXIT:-0}"
