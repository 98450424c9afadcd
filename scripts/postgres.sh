#!/usr/bin/env bash
# Source this to get a Postgres for the tests in P8_TEST_PG_URL: the one on 127.0.0.1:5432 when
# it answers (trust auth, database `test`), otherwise a throwaway cluster started from the Debian
# binaries in a temp dir on a free port, stopped when the calling shell exits.

if [ -n "${P8_TEST_PG_URL:-}" ]; then
    return 0 2>/dev/null || exit 0
fi

if psql "postgres://postgres@127.0.0.1:5432/test" -Atqc 'select 1' >/dev/null 2>&1; then
    export P8_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/test"
else
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$pg_bin" ]; then
        echo "==> installing PostgreSQL (Debian package)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    pg_dir=$(mktemp -d /tmp/p8sync-pg.XXXXXX)
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$pg_dir"
        as_pg=(runuser -u postgres --)
    fi
    echo "==> starting a throwaway Postgres on port $pg_port"
    "${as_pg[@]}" "$pg_bin/initdb" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 -D "$pg_dir/data" >/dev/null
    "${as_pg[@]}" "$pg_bin/pg_ctl" -w -D "$pg_dir/data" -l "$pg_dir/log" \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    trap '"${as_pg[@]}" "$pg_bin/pg_ctl" -m immediate -D "$pg_dir/data" stop >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT
    psql "postgres://postgres@127.0.0.1:$pg_port/postgres" -qc 'create database test' >/dev/null
    export P8_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/test"
fi

# Databases left behind by earlier runs (each test makes its own).
for db in $(psql "$P8_TEST_PG_URL" -Atqc "select datname from pg_database where datname like 'p8sync_test_%'"); do
    psql "$P8_TEST_PG_URL" -qc "drop database if exists \"$db\"" >/dev/null 2>&1 || true
done
echo "==> Postgres for tests: $P8_TEST_PG_URL"
