# mk/release.mk - static release binaries and the container image (issue 19).
#
#   make release       dist/bkcache-$(VERSION)-linux-<arch>.tar.gz for each
#                      of RELEASE_ARCHES (bkcache and bkcache-helper, static,
#                      musl) and dist/SHA256SUMS (sha256sum format)
#   make image         a local FROM scratch image bkcache:$(VERSION) for this
#                      machine's arch (IMAGE_ARCH), also
#                      tagged bkcache:latest: /bkcache, /bkcache-helper and
#                      a CA bundle, ENTRYPOINT ["/bkcache"]
#   make test-release  checks the archives and runs the amd64 binary inside
#                      FROM scratch containers (tests/release/run.sh)
#
# The libraries come from Debian's source packages, built for musl by
# scripts/release/build-libs.sh into $(RELEASE_CACHE) (kept between runs,
# keyed by the source versions, so a second `make release` only compiles
# bkcache). bkcache itself is compiled by this Makefile's own rules and
# source lists, in $(BUILD)/release/<arch>, with the musl compiler and the
# static libraries swapped in. arm64 uses Debian's cross compiler with a
# musl built from Debian's musl source, and is smoke-tested under qemu.
RELEASE_ARCHES ?= amd64 arm64
RELEASE_CACHE  ?= /var/cache/bkcache-release
DIST           ?= dist
IMAGE_ARCH     ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
REL_LIBS        = -lcurl -lssl -lcrypto -lcjson -lyaml -larchive -lzstd -lpthread
REL_HELPER_LIBS = -larchive -lzstd -lcrypto -lpthread
# objects that embed the version string, rebuilt when the version changes
REL_VERSIONED   = $(shell grep -l BK_VERSION $(CORE_SRC) $(PROV_SRC) core/main.c helper/main.c)

.PHONY: release release-deps image test-release
export BKCACHE_RELEASE_CACHE = $(RELEASE_CACHE)

release-deps:
	@sh scripts/release/deps.sh $(RELEASE_ARCHES)

release: release-deps
	@rm -f $(DIST)/bkcache-*-linux-*.tar.gz $(DIST)/SHA256SUMS
	@for a in $(RELEASE_ARCHES); do \
	  $(MAKE) --no-print-directory release-arch-$$a || exit 1; done
	@cd $(DIST) && sha256sum bkcache-$(VERSION)-linux-*.tar.gz >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS
	@echo "  RELEASE $(DIST)/SHA256SUMS"

release-arch-%:
	@prefix=$$(sh scripts/release/build-libs.sh $*) || exit 1; \
	 b=$(BUILD)/release/$*; mkdir -p $$b; \
	 if [ "$$(cat $$b/.version 2>/dev/null)" != "$(VERSION)" ]; then \
	   for f in $(REL_VERSIONED:.c=.o); do rm -f $$b/$$f; done; echo "$(VERSION)" >$$b/.version; fi; \
	 $(MAKE) --no-print-directory BUILD=$$b CC=$$prefix/bin/cc OPT=-O2 SAN= LDFLAGS=-static \
	   PKG_CFLAGS="-I$$prefix/include -I$$prefix/include/cjson -include scripts/release/musl-compat.h" \
	   PKG_LIBS="-L$$prefix/lib $(REL_LIBS)" HELPER_LIBS="-L$$prefix/lib $(REL_HELPER_LIBS)" \
	   --no-print-directory -s $$b/bkcache $$b/bkcache-helper && \
	 sh scripts/release/package.sh $* $$b $(DIST) $(VERSION)

image:
	@[ -f $(DIST)/bkcache-$(VERSION)-linux-$(IMAGE_ARCH).tar.gz ] || \
	  $(MAKE) --no-print-directory release RELEASE_ARCHES=$(IMAGE_ARCH)
	@flock /tmp/bkcache-docker.lock sh scripts/with-dockerd.sh \
	  sh scripts/release/image.sh $(DIST)/bkcache-$(VERSION)-linux-$(IMAGE_ARCH).tar.gz $(VERSION)

test-release: release
	@DIST=$(DIST) VERSION=$(VERSION) RELEASE_ARCHES="$(RELEASE_ARCHES)" sh tests/release/run.sh
