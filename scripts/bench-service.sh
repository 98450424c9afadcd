#!/usr/bin/env bash
# The service benchmark of issue 6, on a real Postgres:
#   * scheduler overhead: 10,000 configs, none due; the time of one claim (a tick that finds
#     nothing) and the database work it costs (buffer pages touched per tick);
#   * API latency: GET /sync/files over 100,000 rows, p50 and p99 under load from wrk on
#     loopback (random pages of one user's files, and one config's files filtered by status).
# Targets: a tick under 20 ms, p99 under 50 ms. Needs: a release build (made here), wrk
# (Debian package, installed here), Postgres (scripts/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building p8sync (release)"
./scripts/build-components.sh >/dev/null
cargo build --quiet --release -p p8sync
command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y -qq wrk >/dev/null; }
# shellcheck source=scripts/postgres.sh
. ./scripts/postgres.sh

admin_url=${P8_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
db="p8sync_bench_$$"
psql -q "$admin_url" -c "CREATE DATABASE $db"
url="${admin_url%/*}/$db"
w=$(mktemp -d /tmp/p8sync-bench-service.XXXXXX)
cleanup() {
    [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db" || true
    rm -rf "$w"
}
trap cleanup EXIT
export DATABASE_URL="$url" P8_DATA_DIR="$w/data" P8_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
p8=target/release/p8sync
$p8 migrate >/dev/null
key=$($p8 user create --name bench 2>/dev/null)
user=$($p8 user list | awk 'NR==2 {print $2}')

echo "==> loading 10,000 configs (none due) and 100,000 files"
psql -q "$url" <<SQL
INSERT INTO p8."SyncConfig" (id, name, provider, userid, enabled, sync_interval_hours,
    next_sync_at, provider_config)
SELECT md5('config' || g)::uuid, 'config ' || g, 'local', '$user'::uuid, true, 24,
    now() + interval '1 day' + (g || ' seconds')::interval, '{}'::jsonb
FROM generate_series(1, 10000) g;
INSERT INTO p8."SyncFile" (id, config_id, userid, remote_id, remote_path, remote_name,
    remote_size, status, s3_uri, local_size, last_sync_at)
SELECT md5('file' || g)::uuid, md5('config' || (1 + g % 100))::uuid, '$user'::uuid,
    'remote-' || g, 'folder/' || (g % 500) || '/file-' || g || '.txt', 'file-' || g || '.txt',
    1000 + g, CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'synced' END,
    's3://bench/' || g, 1000 + g, now()
FROM generate_series(1, 100000) g;
ANALYZE;
SQL

echo "==> scheduler tick: 10,000 configs, none due"
P8_BENCH_PG_URL="$url" cargo bench --quiet -p p8sync-e2e --bench scheduler 2>&1 | grep -E "^tick|error"

echo "==> API latency: GET /sync/files over 100,000 rows"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The scheduler finds nothing due (every config is a day away), so the API has the machine.
$p8 serve --listen "127.0.0.1:$port" --tick-secs 3600 >"$w/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cat >"$w/pages.lua" <<'LUA'
-- Random pages: `after` a random file id (keyset paging), 100 rows each.
math.randomseed(os.time())
local hex = "0123456789abcdef"
local function uuid()
  local s = {}
  for i = 1, 32 do local r = math.random(1, 16); s[i] = hex:sub(r, r) end
  local t = table.concat(s)
  return t:sub(1,8) .. "-" .. t:sub(9,12) .. "-" .. t:sub(13,16) .. "-" .. t:sub(17,20) .. "-" .. t:sub(21,32)
end
request = function()
  return wrk.format("GET", "/sync/files?limit=100&after=" .. uuid())
end
LUA
echo "-- random pages of the user's 100,000 files (100 rows each)"
wrk -t2 -c16 -d20s --latency -H "Authorization: Bearer $key" -s "$w/pages.lua" "http://127.0.0.1:$port" \
    | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx"
config=$(psql -qAt "$url" -c "SELECT md5('config1')::uuid")
echo "-- one config's failed files (status filter, 100 rows)"
wrk -t2 -c16 -d20s --latency -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$port/sync/files?config_id=$config&status=failed&limit=100" \
    | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(date -u +%Y-%m-%d)"
