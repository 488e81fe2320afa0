#!/bin/sh
# Run each cmocka test binary given as an argument, show its output, and end
# with one summary line "N passed, N failed" over all of them. Exit 1 if any
# test failed or a binary crashed.
passed=0; failed=0; crashed=""
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^\[  (FAILED|PASSED|  SKIP)|^\[  ERROR|^\[ *FAILED|^ERROR|runtime error|Sanitizer' || true
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END{print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END{print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    crashed="$crashed $(basename "$t")"; failed=$((failed + 1))
    printf '%s\n' "$out" | tail -20
  fi
  [ "$f" -gt 0 ] && printf '%s\n' "$out" | grep -B2 -A8 'FAILURE\|Failure\|\[  FAILED' | head -60
done
[ -n "$crashed" ] && echo "crashed:$crashed"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
