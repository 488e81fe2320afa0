#!/bin/sh
# build-component.sh - write templates/bkcache.yml, the CI/CD component, from
# src/component-head.yml (spec: inputs: and the build job) followed by the
# classic template bkcache.gitlab-ci.yml (the hidden jobs and snippets), so
# the two never drift apart. `--check` only compares and exits 1 when the
# committed component is stale.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cat src/component-head.yml bkcache.gitlab-ci.yml >"$tmp"
if [ "${1:-}" = --check ]; then
  cmp -s "$tmp" templates/bkcache.yml || {
    echo "gitlab/templates/bkcache.yml is stale: run gitlab/build-component.sh" >&2
    exit 1
  }
  exit 0
fi
cp "$tmp" templates/bkcache.yml
