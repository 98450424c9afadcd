#!/usr/bin/env bash
# Set everything up and run p8sync's main job on the sample folder. Installs the wasm32-wasip2
# target if needed, builds the components and the host (which builds them in), then runs
#   p8sync sync samples
# which copies the folder, through the sandboxed `local` provider, into the embedded object
# store under ./.p8sync (run it again: every file is unchanged). Pass other p8sync arguments
# to run something else.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
echo "==> building p8sync"
cargo build --quiet -p p8sync
if [ "$#" -eq 0 ]; then
    set -- sync samples
fi
echo "==> p8sync $*"
exec target/debug/p8sync "$@"
