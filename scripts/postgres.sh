#!/usr/bin/env bash
# A private PostgreSQL 15 server for the tests: Debian's cluster "photoarchive-test" on a free
# port of 127.0.0.1, trusted there, tuned for speed over durability.
#
#   bash scripts/postgres.sh start   install postgresql-15 if missing (root with apt-get), create
#                                    the cluster if absent, start it, and print one line on stdout:
#                                    export PHOTOARCHIVE_TEST_POSTGRES=postgresql://postgres@127.0.0.1:PORT/postgres
#   bash scripts/postgres.sh stop    stop it
#
# Everything else goes to stderr. When no server can be had here (not root, or no apt-get, and
# no PostgreSQL 15), `start` says so on stderr, prints nothing on stdout and exits 0: the tests
# that need the server then skip.
set -euo pipefail

VERSION=15
CLUSTER=photoarchive-test
BIN=/usr/lib/postgresql/$VERSION/bin
CONF=/etc/postgresql/$VERSION/$CLUSTER

# Keep stdout for the one line `start` prints.
exec 3>&1 1>&2

say() { echo "postgres.sh: $*" >&2; }

have_server() {
    command -v pg_createcluster >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 \
        && [ -x "$BIN/postgres" ] && [ -x "$BIN/pg_isready" ]
}

is_root() { [ "$(id -u)" = 0 ]; }

install_server() {
    # Debian's package creates and starts a default cluster "main"; without systemd (as in a
    # container) that start can fail and fail the install. A policy-rc.d answering 101 tells
    # the maintainer scripts not to start services; an existing one is left as it is.
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
        # shellcheck disable=SC2064
        trap "rm -f '$policy'" EXIT
    fi
    say "installing postgresql-$VERSION for the PostgreSQL tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$VERSION" >/dev/null
    if [ -n "$made_policy" ]; then
        rm -f "$policy"
        trap - EXIT
    fi
}

# The cluster's line of `pg_lsclusters -h` (version cluster port status owner datadir log),
# empty when it does not exist.
cluster_line() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c'
}

cluster_port() { cluster_line | awk '{print $3}'; }

cluster_online() {
    case "$(cluster_line | awk '{print $4}')" in
    online*) return 0 ;;
    *) return 1 ;;
    esac
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

port_in_use() {
    python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

configure() {
    # Debian's postgresql.conf reads conf.d/ last, so these settings win.
    mkdir -p "$CONF/conf.d"
    cat >"$CONF/conf.d/photoarchive-test.conf" <<'EOF'
# The photoarchive test server: local only, quick rather than durable.
listen_addresses = '127.0.0.1'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    cat >"$CONF/pg_hba.conf" <<'EOF'
# The photoarchive test server: the cluster's owner over the socket, anyone over 127.0.0.1.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer
local   all       all                      peer
host    all       all       127.0.0.1/32   trust
EOF
    chown -R postgres:postgres "$CONF" 2>/dev/null || true
}

# pg_ctlcluster start with stdin from /dev/null, output to $1 and every other descriptor closed.
start_detached() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec pg_ctlcluster "$VERSION" "$CLUSTER" start </dev/null >"$1" 2>&1
    )
}

start() {
    if ! have_server; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            install_server
        else
            say "PostgreSQL $VERSION is not installed and cannot be installed here (not root, or" \
                "no apt-get): the PostgreSQL tests will be skipped"
            exit 0
        fi
    fi
    if [ -z "$(cluster_line)" ]; then
        if ! is_root; then
            say "cannot create the cluster $VERSION/$CLUSTER as a user other than root: the" \
                "PostgreSQL tests will be skipped"
            exit 0
        fi
        local port
        port=$(free_port)
        say "creating the cluster $VERSION/$CLUSTER on 127.0.0.1:$port"
        pg_createcluster "$VERSION" "$CLUSTER" --port "$port" --start-conf manual \
            --locale C.UTF-8 --encoding UTF8 >/dev/null
    fi
    if ! cluster_online; then
        if ! is_root && [ "$(cluster_line | awk '{print $5}')" != "$(id -un)" ]; then
            say "the cluster $VERSION/$CLUSTER is down and only root can start it: the" \
                "PostgreSQL tests will be skipped"
            exit 0
        fi
        # The port it was made with may have been taken since (another server, a restart).
        if port_in_use "$(cluster_port)"; then
            local port
            port=$(free_port)
            say "port $(cluster_port) is taken; moving the cluster to $port"
            pg_conftool "$VERSION" "$CLUSTER" set port "$port"
        fi
        configure
        say "starting the cluster $VERSION/$CLUSTER"
        # The server must inherit none of our descriptors: fd 3 is the caller's `$(...)` pipe,
        # and a server holding it (or a CI runner's pipe) open keeps the caller waiting for
        # ever. Its own log is enough.
        local out
        out=$(mktemp)
        if ! start_detached "$out"; then
            cat "$out" >&2
            rm -f "$out"
            say "the cluster $VERSION/$CLUSTER did not start"
            exit 1
        fi
        rm -f "$out"
    fi
    local port
    port=$(cluster_port)
    local waited=0
    until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        if [ "$waited" -ge 30 ]; then
            say "the server on 127.0.0.1:$port is not ready after 30 s; its log:"
            tail -n 20 "/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log" >&2 || true
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    echo "export PHOTOARCHIVE_TEST_POSTGRES=postgresql://postgres@127.0.0.1:$port/postgres" >&3
}

stop() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(cluster_line)" ]; then
        say "no cluster $VERSION/$CLUSTER here"
    elif cluster_online; then
        pg_ctlcluster "$VERSION" "$CLUSTER" stop
        say "stopped the cluster $VERSION/$CLUSTER"
    else
        say "the cluster $VERSION/$CLUSTER is not running"
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: bash scripts/postgres.sh start|stop" >&2
    exit 2
    ;;
esac
