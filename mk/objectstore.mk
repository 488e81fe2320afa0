# mk/objectstore.mk - `make test-objectstore`: the s3 and azblob providers
# against loopback servers (s3rver, Azurite, from tests/objectstore/package.json),
# through the vtable driver and the CLI. See tests/objectstore/run.sh.
OBJSTORE_DRIVER = $(BUILD)/tests/objectstore/driver

$(OBJSTORE_DRIVER): tests/objectstore/driver.c $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(BK_CFLAGS) -o $@ $< $(LIB) $(BK_LDFLAGS) $(BK_LIBS)

test-objectstore: bkcache $(OBJSTORE_DRIVER)
	@DRIVER=$(CURDIR)/$(OBJSTORE_DRIVER) BKCACHE=$(CURDIR)/bkcache sh tests/objectstore/run.sh
