# mk/azure.mk - `make test-azure`: the Azure Pipelines provider and task
# against the loopback emulator (tests/emulators/azure), cross-checked with
# the official Node client. See tests/azure/run.sh.

AZURE_DRIVER = $(BUILD)/tests/azure-driver

$(AZURE_DRIVER): tests/azure/driver.c $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(BK_CFLAGS) -o $@ $< $(LIB) $(BK_LDFLAGS) $(BK_LIBS)

test-azure: bkcache $(AZURE_DRIVER)
	@BKCACHE=$(CURDIR)/bkcache AZURE_DRIVER=$(CURDIR)/$(AZURE_DRIVER) bash tests/azure/run.sh
