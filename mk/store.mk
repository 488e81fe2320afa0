# mk/store.mk - the store area: the CLI end-to-end tests in directory mode
# (tests/e2e/dirmode.sh), run as part of `make test-unit`.
.PHONY: test-unit-cli
test-unit-cli: bkcache
	@BKCACHE=$(CURDIR)/bkcache sh tests/e2e/dirmode.sh

test-unit: test-unit-cli
