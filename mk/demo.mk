# mk/demo.mk - `make demo`: the real BuildKit round trip on examples/buildkit
# (build, save, docker builder prune -af, restore, rebuild with an edited RUN
# line: the cache mounts are warm). Without a reachable BuildKit it says so
# and runs the directory-mode demo (scripts/demo-dir.sh).
demo: all
	@BKCACHE=$(CURDIR)/bkcache sh examples/buildkit/demo.sh
