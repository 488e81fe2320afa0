#!/usr/bin/env bash
# tests/delta/run_cases.sh STORE-ARGS... - the delta save cases (cases.sh) through the store
# those arguments name, for suites written in sh (tests/objectstore, tests/gitlab, ...).
# Needs BKCACHE; DELTA_WORK defaults to a fresh temporary directory; DELTA_HOOKS names a
# file to source first, which defines the store hooks (delta_drop, and optionally
# delta_corrupt, delta_blobs, delta_next_job, delta_after: see cases.sh) and may set
# DELTA_ARGS. DELTA_QUIET=1 prints only failures and the summary. Exit 0 when every case
# passed; the failing ones are printed with their output.
set -u
BKCACHE=${BKCACHE:?set BKCACHE to the bkcache binary}
if [ -z "${DELTA_WORK:-}" ]; then
  DELTA_WORK=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-delta-XXXXXX")
  trap 'rm -rf "$DELTA_WORK"' EXIT
fi
DELTA_ARGS=("$@")
CHECK_OUT=$DELTA_WORK.check CHECK_QUIET=${DELTA_QUIET:-}
# shellcheck source=tests/lib/check.sh
. "$(dirname "$0")/../lib/check.sh"
# shellcheck source=/dev/null
. "${DELTA_HOOKS:?set DELTA_HOOKS to a file of store hooks, e.g. tests/delta/local.sh}"
# shellcheck source=tests/delta/cases.sh
. "$(dirname "$0")/cases.sh"
check_summary delta
