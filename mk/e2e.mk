# mk/e2e.mk - `make test-e2e`. PLACEHOLDER until issue 4 lands.
test-e2e: bkcache
	@echo "test-e2e: no tests yet (issue 4)"
