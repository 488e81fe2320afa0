# mk/store.mk - the store area: the CLI end-to-end tests in directory mode
# (tests/e2e/dirmode.sh, delta saves in tests/e2e/dirmode_delta.sh) and the
# layer cache through the local store (tests/layers/local.sh), run as part
# of `make test-unit` against the build directory's own binary (so
# check-asan runs them under ASan too).
.PHONY: test-unit-cli
test-unit-cli: $(BUILD)/bkcache
	@BKCACHE=$(CURDIR)/$(BUILD)/bkcache sh tests/e2e/dirmode.sh
	@BKCACHE=$(CURDIR)/$(BUILD)/bkcache sh tests/e2e/dirmode_delta.sh
	@BKCACHE=$(CURDIR)/$(BUILD)/bkcache LAYERS_HOOKS=tests/layers/local.sh LAYERS_QUIET=1 \
	  bash tests/layers/run_cases.sh

test-unit: test-unit-cli
