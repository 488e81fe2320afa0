# mk/bench.mk - the builder benchmark on both Docker stacks.
#
# tests/bench/bench_builder.sh needs a running daemon, so `make bench` runs
# it here rather than in the generic loop: first on Debian 12's docker.io
# 20.10 (scripts/with-dockerd.sh, the legacy DOCKER_BUILDKIT=1 path), then
# on Docker 26 + buildx 0.13 with the containerd image store
# (scripts/docker26.sh run), each daemon stopped afterwards. Run it under
# the bench lock (flock /tmp/bkcache-bench.lock) and the docker lock.
.PHONY: bench-builder
BENCH_SKIP += bench_builder.sh

bench-builder: all
	@echo "== tests/bench/bench_builder.sh on Docker 20.10 (docker build, DOCKER_BUILDKIT=1)"
	@env -u DOCKER_HOST -u DOCKER_CONFIG BKCACHE=$(CURDIR)/bkcache \
	  sh scripts/with-dockerd.sh bash tests/bench/bench_builder.sh
	@echo "== tests/bench/bench_builder.sh on Docker 26 + buildx 0.13 (containerd image store)"
	@env -u DOCKER_HOST -u DOCKER_CONFIG BKCACHE=$(CURDIR)/bkcache \
	  sh scripts/docker26.sh run bash tests/bench/bench_builder.sh

bench: bench-builder
