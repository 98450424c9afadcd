#!/usr/bin/env bash
# The sync benchmarks of issues 3 and 16, against rclone in the same run and on the same S3
# server, medians of RUNS (default 5) alternating runs:
#   * 2,000 files of 16 KiB, local folder -> S3;
#   * a no-change re-sync of those 2,000 files;
#   * one 1 GiB file, local folder -> S3;
#   * one file in a new data directory against one in a used one (and with no compiled cache);
#   * a no-change re-sync of 100,000 files (HUNDRED_K=0 skips it).
# Prints files/s, MB/s, peak RSS and CPU seconds (the tool's own, and the S3 server's while the
# tool ran) for p8sync and for rclone, and the ratios.
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
# The S3 server keeps its objects in memory (tmpfs) where there is one: on this machine's disk
# (ext4 with discard) its own writes varied from 1 to 6 CPU seconds per run, which drowned the
# difference between the two clients it serves.
s3=$(mktemp -d "${S3_DIR:-$([ -d /dev/shm ] && echo /dev/shm || echo /tmp)}/p8sync-bench-s3.XXXXXX")
trap 'kill $s3_pid 2>/dev/null || true; rm -rf "$w" "$s3"' EXIT
echo "==> preparing data in $w (objects in $s3)"
mkdir -p "$w/small" "$w/big" "$w/warm" "$s3/p8sync" "$s3/rclone"
# make_tree DIR FILES FOLDERS BYTES: FILES .bin files spread over FOLDERS folders, each BYTES
# random bytes (0: a line with its number, for trees where only the count matters).
make_tree() {
    python3 - "$@" <<'PY'
import os, sys
root, files, folders, size = sys.argv[1], *map(int, sys.argv[2:])
for i in range(files):
    d = os.path.join(root, f"d{i % folders:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
        f.write(os.urandom(size) if size else b"%d\n" % i)
PY
}
make_tree "$w/small" 2000 20 16384
head -c 1073741824 /dev/urandom > "$w/big/one-gib.bin"
echo warm > "$w/warm/w.txt"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/tools/bin/s3s-fs --host 127.0.0.1 --port "$port" --access-key benchak --secret-key benchsecret "$s3" >"$w/s3s.log" 2>&1 &
s3_pid=$!
sleep 1

# CPU seconds the S3 server has used so far (user + system).
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$s3_pid/stat"
}
# Run a timed command; print "wall peak_kib cpu server_cpu".
timed() {
    local before after
    before=$(server_cpu)
    /usr/bin/time -f "%e %M %U %S" -o "$w/time" "$@" >"$w/out" 2>"$w/err" || { cat "$w/err"; exit 1; }
    after=$(server_cpu)
    awk -v b="$before" -v a="$after" '{ printf "%s %s %.2f %.2f\n", $1, $2, $3 + $4, a - b }' "$w/time"
}

export P8_DATA_DIR="$w/p8data"
p8() {
    timed env S3_URL="http://127.0.0.1:$port" S3_BUCKET_NAME=p8sync S3_ACCESS_KEY=benchak \
        S3_SECRET=benchsecret target/release/p8sync sync "$@"
}
rc() {
    timed env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other \
        RCLONE_CONFIG_B_ENDPOINT="http://127.0.0.1:$port" RCLONE_CONFIG_B_ACCESS_KEY_ID=benchak \
        RCLONE_CONFIG_B_SECRET_ACCESS_KEY=benchsecret RCLONE_CONFIG_B_REGION=us-east-1 \
        rclone copy "$@" --transfers 4
}

RUNS=${RUNS:-5}
p8 "$w/warm" >/dev/null # create the database (and the user's compiled-component cache)
: >"$w/results"
for i in $(seq "$RUNS"); do
    # Alternating, each first copy into a fresh place: p8sync a new data directory (new keys),
    # rclone a new prefix.
    P8_DATA_DIR="$w/p8data-$i" p8 "$w/small" --transfers 4 | sed 's/^/p8_small /' >>"$w/results"
    grep -q "synced 2000 files" "$w/out" || { echo "p8sync did not sync 2000 files:"; cat "$w/out"; exit 1; }
    rc "$w/small" "b:rclone/small-$i" | sed 's/^/rc_small /' >>"$w/results"
    P8_DATA_DIR="$w/p8data-$i" p8 "$w/small" --transfers 4 | sed 's/^/p8_again /' >>"$w/results"
    grep -q "synced 0 files (0 B), 2000 unchanged" "$w/out" || { echo "the re-sync was not a no-op:"; cat "$w/out"; exit 1; }
    # One file, in a new data directory and in a used one: the cost of starting fresh.
    mkdir -p "$w/one-$i" && echo "one $i" >"$w/one-$i/one.txt"
    P8_DATA_DIR="$w/p8new-$i" p8 "$w/one-$i" | sed 's/^/p8_newdir /' >>"$w/results"
    mkdir -p "$w/two-$i" && echo "two $i" >"$w/two-$i/two.txt"
    p8 "$w/two-$i" | sed 's/^/p8_useddir /' >>"$w/results"
done
for i in $(seq "$RUNS"); do
    P8_DATA_DIR="$w/p8big-$i" p8 "$w/big" --transfers 4 | sed 's/^/p8_big /' >>"$w/results"
    rm -rf "$s3/p8sync"/* "$w/p8big-$i"
    rc "$w/big" "b:rclone/big-$i" | sed 's/^/rc_big /' >>"$w/results"
    rm -rf "$s3/rclone/big-$i"
done
# A no-change re-sync of 100,000 files (HUNDRED_K=0 skips it): listed, compared with what is
# recorded, nothing transferred. The first copy (tiny .bin files, stored only, so no ingestion
# work) is not timed.
if [ "${HUNDRED_K:-1}" != 0 ]; then
    make_tree "$w/h100k" 100000 100 0
    P8_DATA_DIR="$w/p8h100k" p8 "$w/h100k" --transfers 4 >/dev/null
    grep -q "synced 100000 files" "$w/out" || { echo "p8sync did not sync 100000 files:"; cat "$w/out"; exit 1; }
    for i in $(seq "$RUNS"); do
        P8_DATA_DIR="$w/p8h100k" p8 "$w/h100k" | sed 's/^/p8_h100k /' >>"$w/results"
        grep -q "synced 0 files (0 B), 100000 unchanged" "$w/out" || { echo "the re-sync was not a no-op:"; cat "$w/out"; exit 1; }
    done
fi
# The compile a machine pays once: a new data directory and an empty component cache.
P8_CACHE_DIR="$w/empty-cache" P8_DATA_DIR="$w/p8cold" p8 "$w/one-1" | sed 's/^/p8_coldcache /' >>"$w/results"

python3 - "$w/results" "$RUNS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, secs, kb, cpu, server = line.split()
    runs.setdefault(name, []).append((float(secs), float(kb), float(cpu), float(server)))
n = sys.argv[2]
med = lambda name: statistics.median(r[0] for r in runs[name])
peak = lambda name: max(r[1] for r in runs[name]) / 1024
cpu = lambda name: statistics.median(r[2] for r in runs[name])
server = lambda name: statistics.median(r[3] for r in runs[name])
spread = lambda name: f"{min(r[0] for r in runs[name]):.2f}-{max(r[0] for r in runs[name]):.2f}"
mb_small = 2000 * 16 * 1024 / 1e6
mb_big = 1024 * 1024 * 1024 / 1e6
print(f"medians of {n} alternating runs (range in brackets), peak RSS the largest seen")
print("CPU: the tool's own user + system seconds, then the S3 server's while it ran (medians)")
print("| workload | p8sync | rclone | p8sync speed vs rclone | p8sync peak RSS | rclone peak RSS | CPU p8sync / server | CPU rclone / server |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
def row(label, p8, rc, unit):
    print(f"| {label} | {med(p8):.2f} s [{spread(p8)}], {unit(med(p8))} | {med(rc):.2f} s [{spread(rc)}], "
          f"{unit(med(rc))} | **{med(rc) / med(p8):.2f}x** | {peak(p8):.0f} MiB | {peak(rc):.0f} MiB | "
          f"{cpu(p8):.2f} / {server(p8):.2f} s | {cpu(rc):.2f} / {server(rc):.2f} s |")
row("2,000 x 16 KiB, local folder to S3, first copy", "p8_small", "rc_small",
    lambda t: f"{2000 / t:,.0f} files/s")
row("1 x 1 GiB", "p8_big", "rc_big", lambda t: f"{mb_big / t:,.1f} MB/s")
print(f"| 2,000 x 16 KiB, no-change re-sync | {med('p8_again'):.2f} s [{spread('p8_again')}] | "
      f"(not comparable, see below) | | {peak('p8_again'):.0f} MiB | |")
if "p8_h100k" in runs:
    print(f"| 100,000 files, no-change re-sync | {med('p8_h100k'):.2f} s [{spread('p8_h100k')}] | | | {peak('p8_h100k'):.0f} MiB | | {cpu('p8_h100k'):.2f} / {server('p8_h100k'):.2f} s | |")
print(f"| one file, new data directory | {med('p8_newdir'):.2f} s [{spread('p8_newdir')}] | | | {peak('p8_newdir'):.0f} MiB | |")
print(f"| one file, used data directory | {med('p8_useddir'):.2f} s [{spread('p8_useddir')}] | | | {peak('p8_useddir'):.0f} MiB | |")
print(f"| one file, new data directory and empty component cache (once per machine) | {med('p8_coldcache'):.2f} s | | | {peak('p8_coldcache'):.0f} MiB | |")
PY
