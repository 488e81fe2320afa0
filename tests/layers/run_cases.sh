#!/usr/bin/env bash
# tests/layers/run_cases.sh PROVIDER-ARGS... - the layer cache cases (cases.sh) through the
# store those arguments name, for suites written in sh (tests/objectstore, ...). Needs
# BKCACHE; LAYERS_WORK defaults to a fresh temporary directory; LAYERS_HOOKS may name a
# file to source first (it may set LAYERS_ARGS, and define layers_next_job and
# layers_after, see cases.sh); LAYERS_QUIET=1 prints only failures and the summary. Exit 0 when every case
# passed; the failing ones are printed with their output.
set -u
BKCACHE=${BKCACHE:?set BKCACHE to the bkcache binary}
if [ -z "${LAYERS_WORK:-}" ]; then
  LAYERS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-layers-XXXXXX")
  trap 'rm -rf "$LAYERS_WORK"' EXIT
fi
LAYERS_ARGS=("$@")
PASS=0 FAIL=0
check() {
  local name=$1
  shift
  if "$@" >"$LAYERS_WORK.check" 2>&1; then
    PASS=$((PASS + 1))
    [ -n "${LAYERS_QUIET:-}" ] || echo "ok   $name"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL $name"
    sed 's/^/  /' "$LAYERS_WORK.check"
  fi
}
if [ -n "${LAYERS_HOOKS:-}" ]; then
  # shellcheck source=/dev/null
  . "$LAYERS_HOOKS"
fi
# shellcheck source=tests/layers/cases.sh
. "$(dirname "$0")/cases.sh"
rm -f "$LAYERS_WORK.check"
echo "layers: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
