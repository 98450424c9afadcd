#!/usr/bin/env bash
# Build every provider component (providers/*), extractor component (extractors/*) and test
# component (tests/components/*) for wasm32-wasip2, in one cargo invocation, and copy them where
# the host looks for them:
#   target/providers/<name>.wasm        the providers p8sync ships (P8_PROVIDERS_DIR default)
#   target/extractors/<name>.wasm       the built-in extractors (pdf, office, html, audio)
#   target/test-components/<name>.wasm  misbehaving and helper components for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

crates_in() { # dir prefix -> "-p crate" for each crate folder with a cdylib
    for d in "$1"/*/; do
        [ -f "$d/Cargo.toml" ] || continue
        grep -q 'cdylib' "$d/Cargo.toml" || continue
        echo "-p $2$(basename "$d")"
    done
}
providers=$(crates_in providers p8sync-provider-)
extractors=$(crates_in extractors p8sync-extractor-) # the sdk is a plain library: skipped
tests=$(crates_in tests/components p8sync-test-)

echo "==> building components (wasm32-wasip2, release)"
# shellcheck disable=SC2086
cargo build --quiet --release --target wasm32-wasip2 $providers $extractors $tests

out=target/wasm32-wasip2/release
mkdir -p target/providers target/extractors target/test-components
for d in providers/*/; do
    name=$(basename "$d")
    f="$out/p8sync_provider_${name//-/_}.wasm"
    [ -f "$f" ] && cp "$f" "target/providers/$name.wasm"
done
for d in extractors/*/; do
    name=$(basename "$d")
    f="$out/p8sync_extractor_${name//-/_}.wasm"
    [ -f "$f" ] && cp "$f" "target/extractors/$name.wasm"
done
for d in tests/components/*/; do
    name=$(basename "$d")
    f="$out/p8sync_test_${name//-/_}.wasm"
    [ -f "$f" ] && cp "$f" "target/test-components/$name.wasm"
done
echo "==> components: $(ls target/providers | tr '\n' ' ')"
echo "==> extractors:"
for f in target/extractors/*.wasm; do
    printf '    %-12s %8d KiB\n' "$(basename "$f" .wasm)" "$(( $(stat -c %s "$f") / 1024 ))"
done
