#!/usr/bin/env bash
# pg_ctl for the test suite's throw-away PostgreSQL (see tests/conftest.py).
#
# PostgreSQL refuses to run as root, and CI runs the tests as root. Then this runs pg_ctl as the
# unprivileged `postgres` user, with the cluster in a directory of its own under /tmp: pytest's
# temporary directories are private to root (and pytest re-tightens their parents whenever a run
# starts), so the server could not reach a cluster there. pytest-postgresql still sees the path
# it chose (created here, empty); every command maps it to the same private directory, which
# `stop` removes. As any other user this is plain pg_ctl.
set -euo pipefail
pg_ctl="${FLOWS_PG_CTL:?FLOWS_PG_CTL must name the real pg_ctl}"
# mirakuru (under pytest-postgresql) marks the server with this variable, and whenever any Python
# process that imported it exits, it SIGKILLs every process whose mark *contains* that process's
# id — a substring test that hits unrelated servers when many test runs share a machine. The
# server is stopped with `pg_ctl stop` anyway; unmarked, nobody else's exit can kill it.
unset mirakuru_uuid
if (( EUID != 0 )); then
    exec "$pg_ctl" "$@"
fi

command="${1:-}"
home=""
home_for() {
    local digest
    digest=$(printf '%s' "$1" | md5sum | cut -c1-16)
    home="/tmp/flows-test-pg-$digest"
    if [[ "$command" == initdb ]]; then
        mkdir -p "$home"
        chown postgres "$home"
        chmod 700 "$home"
    fi
}

args=()
previous=""
for argument in "$@"; do
    original="$argument"
    case "$previous" in
        -D | --pgdata)
            [[ "$command" == initdb ]] && mkdir -p "$argument"
            home_for "$argument"
            argument="$home/data"
            ;;
        -l)
            argument="${home:?-l before -D}/server.log"
            ;;
    esac
    args+=("$argument")
    previous="$original"
done

status=0
runuser -u postgres -- "$pg_ctl" "${args[@]}" || status=$?
if [[ "$command" == stop && -n "$home" ]]; then
    rm -rf "$home"
fi
exit "$status"
