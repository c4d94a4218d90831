#!/usr/bin/env bash
# A private single-node Ceph with an S3 gateway for the tests: Debian's ceph-mon, ceph-osd and
# radosgw run by hand (no systemd) from a folder outside the repo, on 127.0.0.1 only, without
# cephx, one OSD keeping its objects in memory (memstore), pools of size 1, no mgr.
#
#   bash scripts/ceph.sh start   install the packages if missing (root with apt-get), make the
#                                cluster and start it if it is not up, make the S3 user if
#                                absent, and print one line on stdout:
#                                export PHOTOARCHIVE_TEST_S3='http://127.0.0.1:PORT' AWS_ACCESS_KEY_ID='...' AWS_SECRET_ACCESS_KEY='...' AWS_DEFAULT_REGION='us-east-1' PHOTOARCHIVE_TEST_S3_LOG='...'
#                                (the last: the gateway's log, where it notes every request)
#   bash scripts/ceph.sh stop    stop its daemons (the folder stays, with their logs)
#
# A cluster that is up (every daemon alive and the gateway answering the user's signed request)
# is only checked. Any other state (none yet, stopped, daemons killed, half up) is replaced by a
# new cluster: the OSD keeps its objects in memory, so they do not outlive it anyway, and a new
# cluster is up in seconds. The S3 port is 7480 unless that is taken; the monitor's is free.
#
# Everything else goes to stderr. When no server can be had here (not root, or no apt-get, and
# no Ceph), `start` says so on stderr, prints nothing on stdout and exits 0: the tests that need
# the server then skip.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    DIR=/var/tmp/photoarchive-ceph
else
    DIR=/var/tmp/photoarchive-ceph-$(id -u)
fi
CONF=$DIR/ceph.conf
LOCK=$DIR.lock
RGW=client.rgw.photoarchive
# Fixed keys of a user that exists only in this cluster, reachable only over 127.0.0.1.
USER_ID=photoarchive-test
ACCESS_KEY=PHOTOARCHIVETESTKEY0
SECRET_KEY=photoarchive-test-secret-key-0000000000
REGION=us-east-1
# Memory the OSD may fill (its capacity); memstore takes only what it holds.
MEMSTORE_BYTES=$((3 * 1024 * 1024 * 1024))
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)

# Keep stdout for the one line `start` prints.
exec 3>&1 1>&2

say() { echo "ceph.sh: $*" >&2; }

have_server() {
    local tool
    for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool; do
        command -v "$tool" >/dev/null 2>&1 || return 1
    done
}

is_root() { [ "$(id -u)" = 0 ]; }

install_server() {
    # The packages would start their services; without systemd (as in a container) that can
    # fail and fail the install. A policy-rc.d answering 101 tells the maintainer scripts not
    # to start services; an existing one is left as it is.
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
        # shellcheck disable=SC2064
        trap "rm -f '$policy'" EXIT
    fi
    say "installing ${PACKAGES[*]} for the S3 tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >/dev/null
    if [ -n "$made_policy" ]; then
        rm -f "$policy"
        trap - EXIT
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Whether a server could not listen on port $1 (as a server would, with SO_REUSEADDR: the
# connections of a gateway just stopped, in TIME_WAIT, do not keep the next from the port).
port_in_use() {
    python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

# The gateway's port, from the config; empty when there is none.
rgw_port() {
    sed -n 's/^rgw_frontends = beast endpoint=127\.0\.0\.1:\([0-9]*\).*$/\1/p' "$CONF" 2>/dev/null || true
}

# Asks the gateway on port $1 for the list of buckets, signed with the user's keys when $2 is
# "signed", anonymously otherwise. Exits 0 on 200, 1 on another HTTP answer, 2 on none.
s3_probe() {
    python3 - "$1" "${2:-}" "$ACCESS_KEY" "$SECRET_KEY" <<'EOF'
import base64, email.utils, hashlib, hmac, sys, urllib.error, urllib.request
port, mode, key, secret = sys.argv[1:5]
headers = {}
if mode == "signed":
    date = email.utils.formatdate(usegmt=True)
    mac = hmac.new(secret.encode(), f"GET\n\n\n{date}\n/".encode(), hashlib.sha1)
    headers = {"Date": date, "Authorization": f"AWS {key}:{base64.b64encode(mac.digest()).decode()}"}
try:
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers), timeout=5) as r:
        r.read()
    sys.exit(0)
except urllib.error.HTTPError:
    sys.exit(1)
except Exception:
    sys.exit(2)
EOF
}

# The processes run with our config (daemons, and any client of ours still around). The pattern
# is a regex that matches the config's path but not itself, so grep does not list its own pid.
our_pids() {
    local pattern
    pattern="[${CONF:0:1}]$(printf '%s' "${CONF:1}" | sed 's/[].[^$*\\]/\\&/g')"
    grep -lzx -e "$pattern" /proc/[0-9]*/cmdline 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/cmdline$|\1|p' \
        || true
}

# Whether the daemon $1 (mon.a, osd.0, client.rgw...) is alive: its pid file names a process run
# with our config. A pid file left by a killed daemon names nothing, or someone else.
daemon_alive() {
    local pid
    pid=$(cat "$DIR/run/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$CONF"
}

# Ends every process run with our config: signal $1, then SIGKILL for those left after $2 s.
kill_ours() {
    local pids waited=0
    pids=$(our_pids)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill "-$1" $pids 2>/dev/null || true
    while pids=$(our_pids) && [ -n "$pids" ]; do
        if [ "$waited" -eq $(($2 * 10)) ]; then
            [ "$1" = KILL ] || say "killing what is left: ${pids//$'\n'/ }"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        elif [ "$waited" -ge $((($2 + 10) * 10)) ]; then
            failed "processes of $DIR outlive SIGKILL: ${pids//$'\n'/ }"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Runs "$@" with stdin from /dev/null, output to $DIR/log/start.log and every other
# descriptor closed; the daemons fork into the background from there.
start_detached() {
    (
        for fd in "/proc/$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec "$@" </dev/null >>"$DIR/log/start.log" 2>&1
    )
}

failed() {
    say "$1; the end of the logs in $DIR/log:"
    local log
    for log in "$DIR"/log/*.log; do
        [ -s "$log" ] || continue
        echo "--- $log" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

ceph_cli() { timeout 60 ceph -c "$CONF" --connect-timeout 30 "$@"; }

write_conf() {
    local fsid=$1 mon_port=$2 rgw_port=$3
    cat >"$CONF" <<EOF
# The photoarchive test cluster (scripts/ceph.sh): one monitor, one OSD in memory, one S3
# gateway, all on 127.0.0.1, without authentication; made anew at each start.
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_port]
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc secure
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
# A test cluster on a shared disk: the monitor stops only when its disk is all but full.
mon_data_avail_warn = 2
mon_data_avail_crit = 1
# Each pool the gateway makes is a map change; the monitor proposes one a second by default.
paxos_propose_interval = 0.05
run_dir = $DIR/run
crash_dir = $DIR/crash
keyring = $DIR/keyring

[mon]
mon_data = $DIR/mon/\$id
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log

[osd]
osd_data = $DIR/osd/\$id
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log

[client]
log_file = $DIR/log/\$name.log

[$RGW]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw_data = $DIR/rgw
# The tails of deleted objects (past 4 MiB) are freed by the garbage collector, which waits 2 h
# by default: the OSD's memory would fill with the objects of the tests.
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log
EOF
}

# A new cluster in $DIR, started: monitor, OSD and gateway.
make_cluster() {
    # Whatever is left of an older cluster goes with its folder: no need to let it stop cleanly.
    kill_ours KILL 0
    rm -rf "$DIR"
    mkdir -p "$DIR"/{mon/a,osd/0,rgw,run,log,crash}
    : >"$DIR/keyring"
    local fsid osd_uuid mon_port rgw_port
    fsid=$(cat /proc/sys/kernel/random/uuid)
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(free_port)
    rgw_port=7480
    if port_in_use "$rgw_port"; then rgw_port=$(free_port); fi
    write_conf "$fsid" "$mon_port" "$rgw_port"
    say "making a new cluster in $DIR (monitor on 127.0.0.1:$mon_port, S3 on 127.0.0.1:$rgw_port)"

    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" \
        >>"$DIR/log/start.log" 2>&1 || failed "monmaptool failed"
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >>"$DIR/log/start.log" 2>&1 \
        || failed "the monitor's mkfs failed"
    # The daemons must inherit none of our descriptors: fd 3 is the caller's `$(...)` pipe,
    # and a daemon holding it (or a CI runner's pipe) open keeps the caller waiting for ever.
    start_detached ceph-mon -c "$CONF" -i a || failed "the monitor did not start"

    local osd_id
    osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$DIR/log/start.log") \
        || failed "the monitor does not answer"
    [ "$osd_id" = 0 ] || failed "the monitor gave the OSD the id '$osd_id', not 0"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/start.log" 2>&1 \
        || failed "the OSD's mkfs failed"
    start_detached ceph-osd -c "$CONF" -i 0 || failed "the OSD did not start"
    # The gateway makes its pools as soon as the OSD is up, and answers once they are there.
    start_detached radosgw -c "$CONF" -n "$RGW" || failed "the S3 gateway did not start"

    local waited=0 rc
    while :; do
        rc=0
        s3_probe "$rgw_port" || rc=$?
        [ "$rc" = 2 ] || break
        # Its pid file comes a moment after its start returns (it forks first).
        if [ -e "$DIR/run/$RGW.pid" ] || [ "$waited" -ge 10 ]; then
            daemon_alive "$RGW" || failed "the S3 gateway stopped"
        fi
        if [ "$waited" -ge 120 ]; then failed "the S3 gateway does not answer after 60 s"; fi
        sleep 0.5
        waited=$((waited + 1))
    done
}

ensure_user() {
    if timeout 60 radosgw-admin -c "$CONF" user info --uid "$USER_ID" >/dev/null 2>&1; then
        return 0
    fi
    timeout 60 radosgw-admin -c "$CONF" user create --uid "$USER_ID" \
        --display-name "photoarchive tests" --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" \
        >/dev/null 2>>"$DIR/log/start.log" || failed "radosgw-admin could not make the S3 user"
}

# Whether the cluster is up: its daemons alive and the gateway answering the user's request. A
# gateway busy with tests may be slow, and a cluster in use must not be replaced for that: it
# gets 30 s. One that answers but refuses the keys gets the user made again.
cluster_up() {
    [ -f "$CONF" ] && [ -n "$(rgw_port)" ] && daemon_alive mon.a && daemon_alive osd.0 \
        && daemon_alive "$RGW" || return 1
    local tries=0 rc
    while :; do
        rc=0
        s3_probe "$(rgw_port)" signed || rc=$?
        [ "$rc" != 0 ] || return 0
        tries=$((tries + 1))
        if [ "$tries" -ge 6 ] || ! daemon_alive "$RGW"; then return 1; fi
        if [ "$rc" = 1 ]; then ensure_user; else sleep 1; fi
    done
}

start() {
    if ! have_server; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            install_server
        else
            say "Ceph is not installed and cannot be installed here (not root, or no apt-get):" \
                "the S3 tests will be skipped"
            exit 0
        fi
    fi
    # One start at a time. The lock's descriptor is closed in the daemons.
    exec 9>"$LOCK"
    flock -w 300 9 || failed "another start still holds $LOCK after 300 s"
    if ! cluster_up; then
        local began=$SECONDS
        make_cluster
        ensure_user
        s3_probe "$(rgw_port)" signed || failed "the S3 gateway refuses the user's keys"
        say "the cluster is up after $((SECONDS - began)) s"
    fi
    echo "export PHOTOARCHIVE_TEST_S3='http://127.0.0.1:$(rgw_port)'" \
        "AWS_ACCESS_KEY_ID='$ACCESS_KEY' AWS_SECRET_ACCESS_KEY='$SECRET_KEY'" \
        "AWS_DEFAULT_REGION='$REGION' PHOTOARCHIVE_TEST_S3_LOG='$DIR/log/$RGW.log'" >&3
}

stop() {
    if [ -n "$(our_pids)" ]; then
        # The gateway first, while the cluster it talks to is there to let it stop cleanly (it
        # takes 3 s; without the OSD it hangs). The next start makes a new cluster anyway, so
        # what does not stop within 5 s is killed.
        local pid waited=0
        if daemon_alive "$RGW"; then
            pid=$(cat "$DIR/run/$RGW.pid")
            kill -TERM "$pid" 2>/dev/null || true
            while daemon_alive "$RGW" && [ "$waited" -lt 50 ]; do
                sleep 0.1
                waited=$((waited + 1))
            done
        fi
        kill_ours TERM 5
        say "stopped the cluster in $DIR"
    else
        say "no cluster of $DIR is running"
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: bash scripts/ceph.sh start|stop" >&2
    exit 2
    ;;
esac
