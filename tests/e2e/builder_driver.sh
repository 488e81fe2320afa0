#!/bin/sh
# builder_driver.sh - the pass runs on the driver it is meant to test.
#
# `--driver auto` must pick the docker driver on Docker 20.10 (the legacy
# DOCKER_BUILDKIT=1 path) and buildx on Docker 26 with the buildx plugin
# (make test-e2e sets E2E_DRIVER for each pass); `bkcache plan` names the
# builder it would use. Without E2E_DRIVER this only checks that some
# builder is usable.
. "$(dirname "$0")/lib.sh"
e2e_init driver

inspect_dockerfile "--mount=type=cache,id=driver,target=/c" /c
bk plan || fail "plan failed"
line=$(grep '^caches:' "$T/bk.out")
check '[ -n "$line" ]' "plan printed no caches: line"
check '! echo "$line" | grep -q "none"' "no builder is usable: $line"
if [ -n "${E2E_DRIVER:-}" ]; then
  check 'echo "$line" | grep -q "builder $E2E_DRIVER\\b"' "expected the $E2E_DRIVER driver: $line"
  pass "auto picks the $E2E_DRIVER driver ($line)"
else
  pass "a builder is usable ($line)"
fi
e2e_done
