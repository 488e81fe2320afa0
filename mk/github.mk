# mk/github.mk - `make test-github`. PLACEHOLDER until issue 5 lands.
test-github: bkcache
	@echo "test-github: no tests yet (issue 5)"
