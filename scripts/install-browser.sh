#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (chromedriver) from Debian, for the end-to-end
# tests that drive a real browser (tests/support/browser.rs). Does nothing if both are present.
set -euo pipefail

if [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ]; then
    echo "==> chromium and chromedriver already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
packages=(chromium chromium-driver)
# Try with the package lists already on the machine first: `apt-get update` is slow and only
# needed when they are missing or stale.
if ! apt-get install -y --no-install-recommends "${packages[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${packages[@]}"
fi
echo "==> installed chromium and chromedriver ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
