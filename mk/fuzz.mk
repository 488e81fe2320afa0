# mk/fuzz.mk - `make fuzz`: the Dockerfile parser under libFuzzer.
#
# Builds tests/fuzz/fuzz_dockerfile.c and the parser's sources with clang,
# -fsanitize=fuzzer,address,undefined, in build/fuzz (never mixed with the
# gcc objects), then fuzzes for FUZZ_SECONDS (default 60). The seed corpus is
# copied at run time into a temporary directory from ../shared (BuildKit's
# parser fixtures and the real-world Dockerfiles); nothing is added to the
# repository. A crash, leak or invariant failure exits non-zero and leaves
# the reproducer in build/fuzz/artifacts/.

FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SHARED  ?= ../shared
FUZZ_SRC     := $(wildcard core/dockerfile/dockerfile*.c) core/util/strbuf.c core/util/error.c core/util/log.c
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -I. -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(FUZZ_BUILD)/fuzz_dockerfile: tests/fuzz/fuzz_dockerfile.c $(FUZZ_SRC) $(wildcard core/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_dockerfile.c $(FUZZ_SRC) -lpthread

fuzz: $(FUZZ_BUILD)/fuzz_dockerfile
	@set -e; corpus=$$(mktemp -d); trap 'rm -rf "$$corpus"' EXIT; \
	i=0; for f in $(FUZZ_SHARED)/testdata/buildkit-parser/testfiles/*/Dockerfile \
	              $(FUZZ_SHARED)/testdata/buildkit-parser/testfiles-negative/*/Dockerfile \
	              $(FUZZ_SHARED)/testdata/buildkit-parser/testfile-line/Dockerfile \
	              $(FUZZ_SHARED)/testdata/real-dockerfiles/*/Dockerfile*; do \
	  [ -f "$$f" ] || continue; i=$$((i + 1)); cp "$$f" "$$corpus/seed-$$i"; done; \
	echo "fuzz: $$i seed files, $(FUZZ_SECONDS) s"; \
	mkdir -p $(FUZZ_BUILD)/artifacts; \
	$(FUZZ_BUILD)/fuzz_dockerfile -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/ "$$corpus"
