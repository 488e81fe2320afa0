# bkcache: make BuildKit cache mounts survive ephemeral CI runners.
#
#   make            build ./bkcache and ./bkcache-helper (mk/helper.mk)
#   make demo       a real save/restore round trip on the local store
#   make test       every test suite (unit, e2e, github, azure, gitlab, objectstore,
#                   schemas, release)
#   make test-unit  the cmocka unit tests alone
#   make check-asan the unit tests under AddressSanitizer + UBSan
#   make fuzz       the parser fuzzer for FUZZ_SECONDS (default 60)
#   make bench      the benchmarks (results go to docs/benchmarks.md by hand)
#   make format     clang-format every C file; make format-check only checks
#
# Every target first runs scripts/deps.sh (through the $(BUILD)/.deps stamp),
# which installs the Debian packages that are missing, so a fresh machine
# needs nothing by hand. Area test targets live in mk/<area>.mk.

BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
PKGS     = libcurl libcjson libzstd yaml-0.1 libarchive libcrypto
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

# Evaluated lazily, in recipes only, so pkg-config runs after deps are in.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
BK_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g $(OPT) $(SAN) $(WARN) \
            -I. -DBK_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
BK_LDFLAGS = $(SAN) $(LDFLAGS)
BK_LIBS  = $(PKG_LIBS) -lpthread

CORE_SRC = $(filter-out core/main.c,$(wildcard core/*/*.c))
PROV_SRC = $(wildcard providers/*.c)
LIB_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC) $(PROV_SRC))
LIB      = $(BUILD)/libbkcache.a
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TEST_SUPPORT = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/support/*.c))

.SECONDARY: $(TEST_SUPPORT)
.PHONY: FORCE all deps demo test test-unit check-asan fuzz bench format format-check clean \
        test-e2e test-github test-azure test-gitlab test-objectstore test-schemas

all: bkcache

deps: $(BUILD)/.deps
$(BUILD)/.deps: scripts/deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh
	@touch $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BK_CFLAGS) -MMD -MP -c $< -o $@

# The archive is rebuilt when the list of objects changes too, so a deleted
# source file cannot leave a stale object (and its symbols) behind.
$(BUILD)/.libobjs: FORCE | $(BUILD)/.deps
	@echo '$(LIB_OBJ)' | cmp -s - $@ || echo '$(LIB_OBJ)' > $@

# The objects that embed the version string are rebuilt when it changes (a
# new commit, or a tree that became dirty), so `bkcache --version` and the
# manifests it writes name the source they were built from.
VERSIONED_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(shell grep -l BK_VERSION $(CORE_SRC) $(PROV_SRC) \
                   core/main.c helper/main.c 2>/dev/null))
$(BUILD)/.version: FORCE | $(BUILD)/.deps
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(VERSIONED_OBJ): $(BUILD)/.version

$(LIB): $(LIB_OBJ) $(BUILD)/.libobjs
	@rm -f $@
	@ar rcs $@ $(LIB_OBJ)

$(BUILD)/bkcache: $(BUILD)/core/main.o $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(BK_LDFLAGS) -o $@ $^ $(BK_LIBS)

bkcache: $(BUILD)/bkcache
	@cp $< $@

# ---- unit tests (cmocka): one binary per tests/unit/test_<dir>_<module>.c ----
$(BUILD)/tests/%: tests/unit/%.c $(TEST_SUPPORT) $(LIB) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  TEST    $<"
	@$(CC) $(BK_CFLAGS) -Wno-unused-parameter -Itests/unit -o $@ $< $(TEST_SUPPORT) \
	      $(LIB) $(BK_LDFLAGS) $(BK_LIBS) -lcmocka

test-unit: $(UNIT_BIN) $(BUILD)/bkcache
	@BKCACHE=$(CURDIR)/$(BUILD)/bkcache SHARED=$(CURDIR)/../shared sh tests/run-unit.sh $(UNIT_BIN)

check-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  test-unit

test: test-unit test-e2e test-github test-azure test-gitlab test-objectstore test-schemas test-release
	@echo "make test: all suites passed"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bkcache bkcache-helper

-include mk/*.mk
-include $(LIB_OBJ:.o=.d) $(BUILD)/core/main.d

# ---- benchmarks: each tests/bench/bench_<area>.sh prints its own table ----
# (BENCH_SKIP: scripts a mk/*.mk runs itself, e.g. the builder bench on two stacks)
bench: all
	@for b in tests/bench/bench_*.sh; do [ -f "$$b" ] || continue; \
	  case " $(BENCH_SKIP) " in *" $$(basename $$b) "*) continue;; esac; \
	  echo "== $$b"; BKCACHE=$(CURDIR)/bkcache bash "$$b" || exit 1; done
