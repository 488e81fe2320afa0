# mk/github.mk - `make test-github`: the GitHub Actions cache provider and the actions against
# a loopback emulator of the cache service (tests/emulators/github) backed by Azurite, plus
# interop with the official @actions/cache client. Self-contained: builds bkcache and the test
# client, installs the npm packages (npm ci, skipped when up to date), starts and stops the
# services. Ends with "N passed, N failed".

GH_CLIENT = $(BUILD)/tests/github/gh_client

$(GH_CLIENT): tests/github/gh_client.c $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(BK_CFLAGS) -o $@ $< $(LIB) $(BK_LDFLAGS) $(BK_LIBS)

test-github: bkcache $(GH_CLIENT)
	@BKCACHE=$(CURDIR)/bkcache GH_CLIENT=$(CURDIR)/$(GH_CLIENT) bash tests/github/run.sh
