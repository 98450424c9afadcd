#!/usr/bin/env bash
# The sync benchmark of issue 3, against rclone in the same run and on the same S3 server:
#   * 2,000 files of 16 KiB, local folder -> S3;
#   * a no-change re-sync of those 2,000 files;
#   * one 1 GiB file, local folder -> S3.
# Prints files/s, MB/s and peak RSS for p8sync and for rclone, and the ratios.
# Needs: release builds (made here), rclone (Debian package), s3s-fs (cargo install, here).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-components.sh >/dev/null
echo "==> building p8sync (release)"
cargo build --quiet --release -p p8sync
command -v rclone >/dev/null || { echo "==> installing rclone"; apt-get install -y -qq rclone >/dev/null; }
if [ ! -x target/tools/bin/s3s-fs ]; then
    echo "==> installing s3s-fs 0.14.1"
    cargo install --quiet s3s-fs --version 0.14.1 --features binary --locked --root target/tools
fi

w=$(mktemp -d /tmp/p8sync-bench.XXXXXX)
trap 'kill $s3_pid 2>/dev/null || true; rm -rf "$w"' EXIT
echo "==> preparing data in $w"
mkdir -p "$w/small" "$w/big" "$w/warm" "$w/s3/p8sync" "$w/s3/rclone"
python3 - "$w/small" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(2000):
    d = os.path.join(root, f"d{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(16 * 1024))
PY
head -c 1073741824 /dev/urandom > "$w/big/one-gib.bin"
echo warm > "$w/warm/w.txt"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/tools/bin/s3s-fs --host 127.0.0.1 --port "$port" --access-key benchak --secret-key benchsecret "$w/s3" >"$w/s3s.log" 2>&1 &
s3_pid=$!
sleep 1

export P8_DATA_DIR="$w/p8data"
p8() {
    S3_URL="http://127.0.0.1:$port" S3_BUCKET_NAME=p8sync S3_ACCESS_KEY=benchak S3_SECRET=benchsecret \
        /usr/bin/time -f "%e %M" -o "$w/time" target/release/p8sync sync "$@" >"$w/out" 2>"$w/err" \
        || { cat "$w/err"; exit 1; }
    cat "$w/time"
}
rc() {
    env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other \
        RCLONE_CONFIG_B_ENDPOINT="http://127.0.0.1:$port" RCLONE_CONFIG_B_ACCESS_KEY_ID=benchak \
        RCLONE_CONFIG_B_SECRET_ACCESS_KEY=benchsecret RCLONE_CONFIG_B_REGION=us-east-1 \
        /usr/bin/time -f "%e %M" -o "$w/time" rclone copy "$@" --transfers 4 >"$w/out" 2>"$w/err" \
        || { cat "$w/err"; exit 1; }
    cat "$w/time"
}

p8 "$w/warm" >/dev/null # compile and cache the component, create the database
read -r p8_small_s p8_small_kb < <(p8 "$w/small" --transfers 4)
grep -q "synced 2000 files" "$w/out" || { echo "p8sync did not sync 2000 files:"; cat "$w/out"; exit 1; }
read -r p8_again_s p8_again_kb < <(p8 "$w/small" --transfers 4)
grep -q "synced 0 files (0 B), 2000 unchanged" "$w/out" || { echo "the re-sync was not a no-op:"; cat "$w/out"; exit 1; }
read -r rc_small_s rc_small_kb < <(rc "$w/small" b:rclone/small)
read -r rc_again_s rc_again_kb < <(rc "$w/small" b:rclone/small)
read -r p8_big_s p8_big_kb < <(p8 "$w/big" --transfers 4)
read -r rc_big_s rc_big_kb < <(rc "$w/big" b:rclone/big)

python3 - "$p8_small_s" "$p8_small_kb" "$rc_small_s" "$rc_small_kb" "$p8_again_s" "$p8_again_kb" \
    "$rc_again_s" "$rc_again_kb" "$p8_big_s" "$p8_big_kb" "$rc_big_s" "$rc_big_kb" <<'PY'
import sys
v = list(map(float, sys.argv[1:]))
(p8s, p8sk, rcs, rcsk, p8a, p8ak, rca, rcak, p8b, p8bk, rcb, rcbk) = v
mb_small = 2000 * 16 * 1024 / 1e6
mb_big = 1024 * 1024 * 1024 / 1e6
def row(name, p8, p8k, rc, rck, files, mb):
    fps = lambda t: f"{files / t:,.0f}" if files else "-"
    print(f"| {name} | {p8:.2f} s | {fps(p8)} | {mb / p8:,.1f} | {p8k / 1024:.0f} MiB | "
          f"{rc:.2f} s | {fps(rc)} | {mb / rc:,.1f} | {rck / 1024:.0f} MiB | {rc / p8:.2f}x |")
print("| workload | p8sync time | p8sync files/s | p8sync MB/s | p8sync peak RSS | rclone time | rclone files/s | rclone MB/s | rclone peak RSS | p8sync speed vs rclone |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
row("2,000 x 16 KiB, first copy", p8s, p8sk, rcs, rcsk, 2000, mb_small)
row("2,000 x 16 KiB, no-change re-sync", p8a, p8ak, rca, rcak, 2000, 0.000001)
row("1 x 1 GiB", p8b, p8bk, rcb, rcbk, 1, mb_big)
PY
