#!/usr/bin/env bash
# Record the provider cassettes in tests/cassettes/ again, against the fakes (and the real
# WebDAV server) the tests start. Run after changing a provider's requests; review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-components.sh
cargo build --quiet -p p8sync
P8_RECORD_CASSETTES=1 cargo test -p p8sync-e2e --test e2e -- records_against
git status --short tests/cassettes
