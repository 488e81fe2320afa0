# mk/azure.mk - `make test-azure`. PLACEHOLDER until issue 6 lands.
test-azure: bkcache
	@echo "test-azure: no tests yet (issue 6)"
