#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the PostgreSQL tests (tests/test_postgres.py).
#
#   export JUPYTER_MUX_TEST_PG_URL="$(bash .ci/postgres.sh)"   # install if needed, start
#   bash .ci/postgres.sh stop                                  # stop it (data kept)
#   bash .ci/postgres.sh destroy                               # stop it and delete its data
#
# Installs Debian's `postgresql` when no server binaries are found (needs root, as in CI),
# creates a cluster of its own in $MUX_PG_DIR (default /tmp/jupyter-mux-pg-$PORT) listening
# only on 127.0.0.1:$MUX_PG_PORT (default 54329), a role `mux` (password `mux`, may create
# databases: the tests make one per test) and a database `mux_test`. Idempotent: run it
# again and it reuses what is there. The SQLAlchemy URL is the only thing printed on stdout
# (also written to $MUX_PG_DIR/url); progress goes to stderr.
#
# The cluster is tuned for tests, not for data: fsync and synchronous commit are off.
set -euo pipefail

PORT="${MUX_PG_PORT:-54329}"
DIR="${MUX_PG_DIR:-/tmp/jupyter-mux-pg-$PORT}"
DATA="$DIR/data"
ROLE=mux
PASSWORD=mux
DATABASE=mux_test
URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

BIN=$(find_bin)
if [ -z "$BIN" ]; then
    case "${1:-start}" in stop | destroy) say "no PostgreSQL installed; nothing to do"; exit 0 ;; esac
    say "installing Debian's postgresql"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        postgresql postgresql-client >&2
    BIN=$(find_bin)
    [ -n "$BIN" ] || { say "postgresql installed but initdb not found"; exit 1; }
fi

# initdb and postgres refuse to run as root: as root, run them as the `postgres` user that
# Debian's package creates; otherwise as whoever runs this script.
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /bin/sh postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi

pg_ctl() { as_owner "$BIN/pg_ctl" -D "$DATA" "$@"; }
running() { pg_ctl status >/dev/null 2>&1; }

case "${1:-start}" in
    stop)
        if [ -d "$DATA" ] && running; then pg_ctl -m fast -w stop >&2; fi
        exit 0
        ;;
    destroy)
        if [ -d "$DATA" ] && running; then pg_ctl -m fast -w stop >&2; fi
        rm -rf "$DIR"
        exit 0
        ;;
    start) ;;
    *) say "usage: $0 [start|stop|destroy]"; exit 2 ;;
esac

mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
chmod 700 "$DIR"

if [ ! -s "$DATA/PG_VERSION" ]; then
    say "creating a cluster in $DATA ($("$BIN/postgres" --version))"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
fi

if ! running; then
    say "starting on 127.0.0.1:$PORT"
    pg_ctl -w -t 60 -l "$DIR/server.log" start -o "-c listen_addresses=127.0.0.1 -p $PORT \
        -c unix_socket_directories=$DIR -c max_connections=200 -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off" >&2 \
        || { tail -n 30 "$DIR/server.log" >&2; exit 1; }
fi

psql_admin() {
    as_owner "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}
psql_admin -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END \$\$;" >&2
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

# The URL must work over TCP with the password, as the tests will use it.
PGPASSWORD="$PASSWORD" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DATABASE" -qAt \
    -c "SELECT 1" >/dev/null
echo "$URL" >"$DIR/url"
say "ready: $URL"
echo "$URL"
