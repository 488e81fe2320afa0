# mk/demo.mk - `make demo`: the real BuildKit round trip on examples/buildkit
# (build, save, docker builder prune -af, restore, rebuild with an edited RUN
# line: the cache mounts are warm). scripts/with-dockerd.sh installs docker.io
# and starts a dockerd for the demo when none runs (and stops it after);
# without a reachable BuildKit the demo says so and runs the directory-mode
# demo (scripts/demo-dir.sh).
demo: all
	@BKCACHE=$(CURDIR)/bkcache sh scripts/with-dockerd.sh --optional sh examples/buildkit/demo.sh
