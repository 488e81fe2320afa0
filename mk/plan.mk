# mk/plan.mk - the key benchmark's helper program (tests/bench/bench_keys.c).
# `make bench` builds it before running tests/bench/bench_keys.sh.
$(BUILD)/bench/bench_keys: tests/bench/bench_keys.c $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(BK_CFLAGS) -o $@ $< $(LIB) $(BK_LDFLAGS) $(BK_LIBS)

bench: $(BUILD)/bench/bench_keys
