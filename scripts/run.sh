#!/usr/bin/env bash
# Set everything up and run p8sync's main job on the sample folder. Installs the wasm32-wasip2
# target if needed, builds the provider components and the host, then runs
#   p8sync sync samples
# which copies the folder, through the sandboxed `local` provider, into the embedded object
# store under ./.p8sync (run it again: every file is unchanged). Pass other p8sync arguments
# to run something else.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
echo "==> building p8sync"
cargo build --quiet -p p8sync
# The components this repository builds are approved by its build: their hashes, hosts and
# OAuth endpoints go into target/providers/providers.lock (review it like code).
target/debug/p8sync provider approve target/providers/*.wasm >/dev/null
if [ "$#" -eq 0 ]; then
    set -- sync samples
fi
echo "==> p8sync $*"
exec target/debug/p8sync "$@"
