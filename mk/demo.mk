# mk/demo.mk - `make demo`: the real BuildKit round trip on examples/buildkit
# (build, save, docker builder prune -af, restore, rebuild with an edited RUN
# line: the cache mounts are warm), on the Docker the machine has:
#   - a docker client is installed (Debian's /usr/bin/docker, or DOCKER
#     names one): scripts/with-dockerd.sh starts a dockerd for the demo when
#     none answers (and stops it after);
#   - no Docker at all, as root: scripts/docker26.sh installs today's Docker
#     (26 + buildx, containerd image store) into its private prefix and runs
#     the demo on it, stopped after;
#   - otherwise with-dockerd.sh installs Debian's docker.io.
# Without a reachable BuildKit the demo says so and runs the directory-mode
# demo (scripts/demo-dir.sh).
demo: all
	@if [ -z "$${DOCKER:-}" ] && [ ! -x /usr/bin/docker ] && ! command -v dockerd >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ]; then \
	  BKCACHE=$(CURDIR)/bkcache sh scripts/docker26.sh run sh examples/buildkit/demo.sh; \
	else \
	  BKCACHE=$(CURDIR)/bkcache sh scripts/with-dockerd.sh --optional sh examples/buildkit/demo.sh; \
	fi
