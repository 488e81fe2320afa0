# mk/objectstore.mk - `make test-objectstore`. PLACEHOLDER until issue 8 lands.
test-objectstore: bkcache
	@echo "test-objectstore: no tests yet (issue 8)"
