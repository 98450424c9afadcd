#!/usr/bin/env bash
# Set everything up and run p8sync's main job on the sample folder. Installs the wasm32-wasip2
# target if needed, builds the provider components and the host, then runs
#   p8sync list --provider local --root samples
# (or whatever p8sync arguments you pass instead).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
echo "==> building p8sync"
cargo build --quiet -p p8sync
if [ "$#" -eq 0 ]; then
    set -- list --provider local --root samples
fi
echo "==> p8sync $*"
exec target/debug/p8sync "$@"
