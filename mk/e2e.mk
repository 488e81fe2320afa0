# mk/e2e.mk - `make test-e2e`: save and restore through a real BuildKit, the
# whole tests/e2e suite once per Docker stack, one after the other:
#
#   test-e2e-docker20  Debian 12's docker.io 20.10, the legacy path
#                      (DOCKER_BUILDKIT=1 docker build, dockerd's embedded
#                      BuildKit); scripts/with-dockerd.sh installs docker.io
#                      and starts a dockerd when none answers.
#   test-e2e-docker26  Docker 26 + buildx 0.13 with the containerd image store
#                      (docker build is a buildx build; bkcache's auto driver
#                      picks buildx); scripts/docker26.sh installs it into a
#                      private prefix and runs its own containerd and dockerd.
#   test-e2e-docker26-overlay2  the same Docker 26 on the classic overlay2
#                      store (DOCKER26_STORE=overlay2).
#
# Each pass stops the daemons it started and ends with
# "e2e-<stack>: N passed, N failed".
.PHONY: test-e2e-docker20 test-e2e-docker26 test-e2e-docker26-overlay2

test-e2e: all
	@$(MAKE) --no-print-directory test-e2e-docker20
	@$(MAKE) --no-print-directory test-e2e-docker26
	@$(MAKE) --no-print-directory test-e2e-docker26-overlay2

test-e2e-docker20: all
	@env -u DOCKER_HOST -u DOCKER_CONFIG BKCACHE=$(CURDIR)/bkcache E2E_STACK=docker20 E2E_DRIVER=docker \
	  sh scripts/with-dockerd.sh sh tests/e2e/run.sh

test-e2e-docker26: all
	@env -u DOCKER_HOST -u DOCKER_CONFIG BKCACHE=$(CURDIR)/bkcache E2E_STACK=docker26 E2E_DRIVER=buildx \
	  sh scripts/docker26.sh run sh tests/e2e/run.sh

test-e2e-docker26-overlay2: all
	@env -u DOCKER_HOST -u DOCKER_CONFIG BKCACHE=$(CURDIR)/bkcache E2E_STACK=docker26-overlay2 \
	  E2E_DRIVER=buildx DOCKER26_STORE=overlay2 sh scripts/docker26.sh run sh tests/e2e/run.sh
