# tests/lib/check.sh - the assertion helper of the runners of shared case files
# (tests/layers/run_cases.sh, tests/delta/run_cases.sh), sourced by them.
#   check NAME CMD...   run CMD; count a pass, or print "FAIL NAME" and CMD's output
# Needs CHECK_OUT (a scratch file for CMD's output); CHECK_QUIET set prints only
# failures. PASS and FAIL count the checks; check_summary WHAT prints
# "WHAT: N passed, N failed" and returns 1 when any failed.
# shellcheck shell=bash
PASS=0 FAIL=0
check() {
  local name=$1
  shift
  if "$@" >"$CHECK_OUT" 2>&1; then
    PASS=$((PASS + 1))
    [ -n "${CHECK_QUIET:-}" ] || echo "ok   $name"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL $name"
    sed 's/^/  /' "$CHECK_OUT"
  fi
}
check_summary() {
  rm -f "$CHECK_OUT"
  echo "$1: $PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
