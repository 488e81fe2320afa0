#!/bin/sh
# run.sh - `make test-e2e`: the BuildKit end-to-end tests.
#
# Needs a docker daemon with BuildKit and the Debian client /usr/bin/docker:
# make test-e2e runs it under scripts/with-dockerd.sh, which installs
# docker.io and starts (and afterwards stops) a dockerd when none answers.
# DOCKER names the docker client (default /usr/bin/docker); make
# test-e2e-docker26 runs it through scripts/docker26.sh, which sets DOCKER,
# DOCKER_HOST and DOCKER_CONFIG for its Docker 26 + buildx stack.
# Runs every tests/e2e/builder_*.sh and ends with one line
# "e2e-$E2E_STACK: N passed, N failed" ("e2e: ..." without E2E_STACK).
set -u
DOCKER=${DOCKER:-/usr/bin/docker}
label=e2e${E2E_STACK:+-$E2E_STACK}
export DOCKER BKCACHE="${BKCACHE:-$(pwd)/bkcache}" E2E_ROOT="$(pwd)"
[ -x /bin/busybox ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null

echo "== $label: $("$DOCKER" version --format 'docker client {{.Client.Version}}, daemon {{.Server.Version}}' 2>&1 | head -1)"
"$DOCKER" buildx version 2>/dev/null | sed "s/^/== $label: buildx /"
"$DOCKER" info --format '== '"$label"': storage driver {{.Driver}} {{.DriverStatus}}' 2>/dev/null
start=$(date +%s)
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
echo "== $label: $(($(date +%s) - start)) s"
echo "$label: $passed passed, $failed failed"
[ $failed -eq 0 ]
