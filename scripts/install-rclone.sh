#!/usr/bin/env bash
# Install rclone from Debian, for the WebDAV end-to-end tests (tests/webdav.rs run
# `rclone serve webdav` as a real WebDAV server). Does nothing if rclone is present.
set -euo pipefail

if command -v rclone >/dev/null 2>&1; then
    echo "==> rclone already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Try with the package lists already on the machine first: `apt-get update` is slow and only
# needed when they are missing or stale.
if ! apt-get install -y -qq --no-install-recommends rclone >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rclone >/dev/null
fi
echo "==> installed rclone ($(rclone version 2>/dev/null | sed -n 1p))"
