#!/bin/sh
# pg_ctl for the test suite's throw-away PostgreSQL (see tests/conftest.py).
# PostgreSQL refuses to run as root, and CI runs the tests as root: then this runs pg_ctl as the
# unprivileged `postgres` user, after handing it the fresh temporary directory that will hold the
# cluster (and the right to traverse that directory's parents; nothing is made readable).
# As any other user it is plain pg_ctl.
set -eu
pg_ctl="${FLOWS_PG_CTL:?FLOWS_PG_CTL must name the real pg_ctl}"
if [ "$(id -u)" -ne 0 ]; then
    exec "$pg_ctl" "$@"
fi
if [ "${1:-}" = initdb ]; then
    previous=""
    for argument in "$@"; do
        if [ "$previous" = "--pgdata" ] || [ "$previous" = "-D" ]; then
            parent=$(dirname "$argument")
            chown postgres "$parent"
            directory="$parent"
            while [ "$directory" != "/" ]; do
                directory=$(dirname "$directory")
                if [ -z "$(find "$directory" -maxdepth 0 -perm -0001)" ]; then
                    chmod o+x "$directory"
                fi
            done
        fi
        previous="$argument"
    done
fi
exec runuser -u postgres -- "$pg_ctl" "$@"
