# mk/archive.mk - the archive and local-store area.
#
# The shared test helpers (tests/unit/support/*.o) are compiled with -MMD like
# everything else, but the top-level Makefile includes only the library's
# dependency files; without theirs, a changed header (a new provider slot)
# left stale helper objects behind and the tests crashed.
-include $(TEST_SUPPORT:.o=.d)
