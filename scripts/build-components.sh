#!/usr/bin/env bash
# Build every provider component (providers/*), extractor component (extractors/*) and test
# component (tests/components/*) for wasm32-wasip2, in one cargo invocation, and copy them where
# the host looks for them:
#   target/providers/<name>.wasm        the providers p8sync ships (P8_PROVIDERS_DIR default)
#   target/extractors/<name>.wasm       the built-in extractors (pdf, office, html, audio)
#   target/test-components/<name>.wasm  misbehaving and helper components for the tests
# (under $CARGO_TARGET_DIR instead of target/ when that is set). A file is only replaced when it
# changed, so the p8sync binary, which builds these in, is not relinked for nothing.
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

t=${CARGO_TARGET_DIR:-target}
out=$t/wasm32-wasip2/release
mkdir -p "$t/providers" "$t/extractors" "$t/test-components"
put() { cmp -s "$1" "$2" || cp "$1" "$2"; }
for d in providers/*/; do
    name=$(basename "$d")
    f="$out/p8sync_provider_${name//-/_}.wasm"
    [ -f "$f" ] && put "$f" "$t/providers/$name.wasm"
done
for d in extractors/*/; do
    name=$(basename "$d")
    f="$out/p8sync_extractor_${name//-/_}.wasm"
    [ -f "$f" ] && put "$f" "$t/extractors/$name.wasm"
done
for d in tests/components/*/; do
    name=$(basename "$d")
    f="$out/p8sync_test_${name//-/_}.wasm"
    [ -f "$f" ] && put "$f" "$t/test-components/$name.wasm"
done
echo "==> components:"
for f in "$t"/providers/*.wasm "$t"/extractors/*.wasm; do
    printf '    %-12s %8d KiB\n' "$(basename "$f" .wasm)" "$(( $(stat -c %s "$f") / 1024 ))"
done
