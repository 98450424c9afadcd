#!/usr/bin/env bash
# Install the two standard OpenAPI tools the API tests run against `/openapi.json`
# (openapi-spec-validator, and openapi-python-client, whose generated client a test then uses
# against a running server), from PyPI into a virtualenv under target/tools. Does nothing if
# they are there.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/tools/openapi
if [ -x "$venv/bin/openapi-spec-validator" ] && [ -x "$venv/bin/openapi-python-client" ] && [ -x "$venv/bin/ruff" ]; then
    echo "==> OpenAPI tools already installed"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    openapi-spec-validator==0.9.0 openapi-python-client==0.29.1 ruff==0.17.6
echo "==> installed openapi-spec-validator and openapi-python-client in $venv"
