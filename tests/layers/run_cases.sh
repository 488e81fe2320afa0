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
CHECK_OUT=$LAYERS_WORK.check CHECK_QUIET=${LAYERS_QUIET:-}
# shellcheck source=tests/lib/check.sh
. "$(dirname "$0")/../lib/check.sh"
if [ -n "${LAYERS_HOOKS:-}" ]; then
  # shellcheck source=/dev/null
  . "$LAYERS_HOOKS"
fi
# shellcheck source=tests/layers/cases.sh
. "$(dirname "$0")/cases.sh"
check_summary layers
