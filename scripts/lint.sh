#!/usr/bin/env bash
# Formatting and lints, as CI checks them: `cargo fmt --check`, then clippy on every native
# crate with warnings as errors. (The wasm components' own crates are linted natively too;
# the test components and the local-folder provider, which only build for wasm32-wasip2, are
# left out.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy -D warnings"
# shellcheck disable=SC2046
cargo clippy --quiet --workspace --all-targets --exclude p8sync-provider-local-folder \
    $(for d in tests/components/*/; do echo "--exclude p8sync-test-$(basename "$d")"; done) \
    -- -D warnings
