#!/bin/sh
# run.sh - `make test-e2e`: the BuildKit end-to-end tests.
#
# Needs a docker daemon with BuildKit and the Debian client /usr/bin/docker:
# make test-e2e runs it under scripts/with-dockerd.sh, which installs
# docker.io and starts (and afterwards stops) a dockerd when none answers.
# Runs every tests/e2e/builder_*.sh and ends with one line
# "e2e: N passed, N failed".
set -u
DOCKER=/usr/bin/docker
export DOCKER BKCACHE="${BKCACHE:-$(pwd)/bkcache}" E2E_ROOT="$(pwd)"
[ -x /bin/busybox ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null

passed=0
failed=0
for t in tests/e2e/builder_*.sh; do
  out=$(sh "$t" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  n=$(printf '%s\n' "$out" | grep -c ': ok - ')
  passed=$((passed + n))
  [ $rc -eq 0 ] || failed=$((failed + 1))
done
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
