#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 on a loopback port with a fresh data directory.
#
#   eval "$(.ci/postgres.sh start)"   # exports PLINTH_TEST_POSTGRES_URL (and PLINTH_TEST_PGDATA)
#   .ci/postgres.sh restart           # restarts it (the outage tests use this)
#   .ci/postgres.sh stop              # stops it and removes the data directory
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
# user. The binaries come from `pg_config --bindir` (Debian keeps them off PATH).
set -euo pipefail

dir="${PLINTH_TEST_PGDATA:-/tmp/plinth-pg}"
port="${PLINTH_TEST_PGPORT:-55432}"

bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
    elif [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        echo /usr/lib/postgresql/15/bin
    else
        echo "postgres.sh: no PostgreSQL binaries (install postgresql-15)" >&2
        exit 1
    fi
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
start)
    bin="$(bindir)"
    if [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "export PLINTH_TEST_POSTGRES_URL=postgres://plinth:plinth@127.0.0.1:$port/postgres"
        echo "export PLINTH_TEST_PGDATA=$dir"
        exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    pwfile="$dir/pw"
    echo plinth > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U plinth --pwfile="$pwfile" -A scram-sha-256 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on" \
        start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "export PLINTH_TEST_POSTGRES_URL=postgres://plinth:plinth@127.0.0.1:$port/postgres"
    echo "export PLINTH_TEST_PGDATA=$dir"
    ;;
restart)
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w restart >/dev/null
    ;;
stop)
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|restart|stop" >&2
    exit 2
    ;;
esac
