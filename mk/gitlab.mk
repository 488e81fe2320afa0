# mk/gitlab.mk - `make test-gitlab`: the gitlab provider and the GitLab CI
# templates, end to end on loopback (issue 7).
#
# Builds ./bkcache and a small driver that calls the provider's ops table,
# installs the YAML parser the template checks use (npm ci in tests/gitlab,
# skipped when node_modules is current), starts the GitLab emulator
# (tests/emulators/gitlab/server.js) on 127.0.0.1, runs tests/gitlab/run.sh
# and stops the emulator. Ends with "gitlab: N passed, N failed".

GITLAB_DRIVER = $(BUILD)/tests/gitlab_driver

$(GITLAB_DRIVER): tests/gitlab/driver.c $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(BK_CFLAGS) -o $@ $< $(LIB) $(BK_LDFLAGS) $(BK_LIBS)

test-gitlab: bkcache $(GITLAB_DRIVER)
	@BKCACHE=$(CURDIR)/bkcache GITLAB_DRIVER=$(CURDIR)/$(GITLAB_DRIVER) bash tests/gitlab/run.sh
