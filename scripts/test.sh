#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the wasm32-wasip2 target, builds every
# component, then runs the unit tests, the end-to-end tests (real compiled components, real
# HTTP servers, real Postgres) and the CLI tests. Extra arguments go to `cargo test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
./scripts/install-browser.sh
./scripts/install-rclone.sh
./scripts/install-openapi-tools.sh
# shellcheck source=scripts/postgres.sh
. ./scripts/postgres.sh

echo "==> cargo test"
cargo test --workspace --exclude p8sync-provider-local-folder \
    $(for d in tests/components/*/; do echo "--exclude p8sync-test-$(basename "$d")"; done) \
    "$@"
