# mk/gitlab.mk - `make test-gitlab`. PLACEHOLDER until issue 7 lands.
test-gitlab: bkcache
	@echo "test-gitlab: no tests yet (issue 7)"
