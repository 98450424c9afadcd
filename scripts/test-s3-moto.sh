#!/usr/bin/env bash
# Run the S3 tests (object store conformance and the engine tests that use S3) against a second,
# different S3 implementation: moto's server, installed from PyPI into target/moto-venv.
# (The default test run uses s3s-fs in process.)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
# shellcheck source=scripts/postgres.sh
. ./scripts/postgres.sh

venv=target/moto-venv
if [ ! -x "$venv/bin/moto_server" ]; then
    echo "==> installing moto[server] into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "moto[server]"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.2
done
echo "==> moto on port $port"
export P8_TEST_S3_ENDPOINT="http://127.0.0.1:$port" P8_TEST_S3_ACCESS_KEY=test P8_TEST_S3_SECRET=test
cargo test -p p8sync-e2e --test e2e "$@" -- blob:: sync_engine::
