# mk/demo.mk - `make demo`: a save/restore round trip in directory mode on a
# fresh local store (scripts/demo-dir.sh). The builder area replaces it with
# the real BuildKit round trip and falls back to this script.
demo: all
	@BKCACHE=$(CURDIR)/bkcache sh scripts/demo-dir.sh
