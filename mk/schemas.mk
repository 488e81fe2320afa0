# mk/schemas.mk - `make test-schemas`: the CI wrappers (GitHub actions, the
# Azure Pipelines task, the GitLab templates) against the published schemas,
# with ajv; the schemas come from pinned npm packages (tests/schemas/check.js).

test-schemas:
	@sh tests/schemas/run.sh
