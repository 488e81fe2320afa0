# mk/e2e.mk - `make test-e2e`: save and restore through a real BuildKit
# (scripts/with-dockerd.sh starts a dockerd when none runs and stops it after).
test-e2e: all
	@BKCACHE=$(CURDIR)/bkcache sh scripts/with-dockerd.sh sh tests/e2e/run.sh
