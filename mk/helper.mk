# mk/helper.mk - bkcache-helper, the static program that generated builds run.
#
# It reuses the archive code through libbkcache.a: the static link pulls in
# only the objects the helper references (archive, error, log, strbuf).
# libarchive's static dependencies are linked as one group because their
# order is circular. glibc's warnings about getpwnam() in static programs
# are expected (the helper runs without /etc/passwd) and are kept out of the
# output (in build/bkcache-helper.log). It is linked stripped (-s): it travels
# in the context of every transfer build, and its symbols and debug information would
# add about 1 MB to each.
all: bkcache-helper

HELPER_LIBS = -Wl,--start-group $(shell pkg-config --static --libs libarchive libzstd libcrypto) \
              -lm -lpthread -ldl -Wl,--end-group

$(BUILD)/bkcache-helper: $(BUILD)/helper/main.o $(LIB)
	@echo "  LINK    $@ (static)"
	@$(CC) -static -s $(LDFLAGS) -o $@ $^ $(HELPER_LIBS) 2>$@.log || { cat $@.log; exit 1; }

bkcache-helper: $(BUILD)/bkcache-helper
	@cp $< $@

# helper/main.o's header dependencies: without them a changed struct in a
# header left a stale main.o linked against the new library (a crash).
-include $(BUILD)/helper/main.d
