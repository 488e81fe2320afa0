# mk/e2e.mk - `make test-e2e`: save and restore through a real BuildKit
# (tests/e2e/run.sh starts a dockerd when none runs and stops it after).
test-e2e: all
	@BKCACHE=$(CURDIR)/bkcache sh tests/e2e/run.sh
