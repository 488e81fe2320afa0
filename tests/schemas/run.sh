#!/bin/sh
# run.sh - `make test-schemas`: every CI wrapper file (actions/*/action.yml,
# azure-tasks/*/task.json, gitlab/**.yml) against its ecosystem's published
# schema with ajv; check.js says where each schema comes from. Installs the
# locked npm packages first (npm ci, skipped when node_modules is current).
# Ends with "schemas: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
stamp=$here/node_modules/.bkcache-lock
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "schemas: npm ci failed in tests/schemas"; echo "schemas: 0 passed, 1 failed"; exit 1; }
  cp "$here/package-lock.json" "$stamp"
fi
exec node "$here/check.js" "$@"
