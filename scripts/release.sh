#!/usr/bin/env bash
# The file to ship: a release p8sync with the providers and extractors built in, no debug info.
#   ./scripts/release.sh          -> target/release/p8sync            (glibc, dynamically linked)
#   ./scripts/release.sh --musl   -> target/x86_64-unknown-linux-musl/release/p8sync (static)
# Copy that one file anywhere and run it; deploy/p8sync.service runs it under systemd.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh
if [ "${1:-}" = "--musl" ]; then
    target=x86_64-unknown-linux-musl
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
    # The C parts (SQLite, the TLS library's crypto) are compiled for musl with musl-gcc.
    if ! command -v musl-gcc >/dev/null; then
        echo "==> installing musl-tools"
        sudo_if() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
        sudo_if apt-get install -y -qq musl-tools >/dev/null
    fi
    echo "==> building p8sync (release, $target, static)"
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release -p p8sync --target "$target"
    bin=target/$target/release/p8sync
else
    echo "==> building p8sync (release)"
    cargo build --release -p p8sync
    bin=target/release/p8sync
fi
echo "==> $bin: $(( $(stat -c %s "$bin") / 1024 / 1024 )) MiB"
"$bin" providers
