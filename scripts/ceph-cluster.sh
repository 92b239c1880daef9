#!/usr/bin/env bash
# A throw-away single-node Ceph cluster on loopback, for the rbd pool tests
# and the benchmark's RBD rows: one monitor, one manager, one BlueStore OSD
# on a plain sparse file, pool size 1, cephx. Everything lives in DIR; no
# systemd, no LVM, no other address than 127.0.0.1.
#
#   scripts/ceph-cluster.sh start DIR [POOL]   # prints nothing else; ready when it returns
#   scripts/ceph-cluster.sh stop DIR           # stops every daemon by pid, removes DIR
#
# Clients use DIR/ceph.conf and DIR/keyring (client.admin), e.g.
#   rbd -c DIR/ceph.conf -k DIR/keyring ls rbd
# The monitor listens on 127.0.0.1:PORT, PORT from $CEPH_PORT or a free one.
set -euo pipefail

die() { echo "ceph-cluster: $*" >&2; exit 1; }

start() {
    local dir=$1 pool=${2:-rbd}
    [[ -d $dir && -n "$(ls -A "$dir" 2>/dev/null)" ]] && die "'$dir' is not empty"
    command -v ceph-mon >/dev/null || die "ceph-mon is missing (scripts/install-test-deps.sh installs it)"
    mkdir -p "$dir"/{mon,mgr,osd,run,log}
    chmod 700 "$dir"
    dir=$(cd "$dir" && pwd)
    local port=${CEPH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    local fsid
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$port
public_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $dir/keyring
run_dir = $dir/run
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
ms_bind_msgr1 = false
ms_bind_ipv6 = false
[client]
# clients (rbd, qemu, poolfs through librados) keep no admin socket or log here
admin_socket =
log_file = /dev/null
[mon]
mon_data = $dir/mon
[mgr]
mgr_data = $dir/mgr
mgr_disabled_modules = dashboard restful prometheus
[osd]
osd_data = $dir/osd
osd_objectstore = bluestore
bluestore_block_path = $dir/osd-block
bluestore_block_create = true
bluestore_block_size = 10737418240
osd_memory_target = 1610612736
bluestore_cache_autotune = false
bluestore_cache_size = 268435456
osd_max_object_name_len = 256
osd_max_object_namespace_len = 64
# A client that stops answering loses its watches (and so its image locks)
# after this long: half Ceph's default, so the fencing test is short.
osd_client_watch_timeout = 15
EOF
    local c=(-c "$dir/ceph.conf")
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/keyring" >/dev/null
    monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$dir/monmap" >/dev/null
    ceph-mon "${c[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
    ceph-mon "${c[@]}" -i a 2>>"$dir/log/daemons.err"
    # The manager and the OSD get keys of their own, made through the monitor.
    ceph "${c[@]}" auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
        > "$dir/mgr/keyring"
    ceph-mgr "${c[@]}" -i x --keyring "$dir/mgr/keyring" 2>>"$dir/log/daemons.err"
    local id uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    id=$(ceph "${c[@]}" osd new "$uuid")
    ceph "${c[@]}" auth get-or-create "osd.$id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
        > "$dir/osd/keyring"
    ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$uuid" --keyring "$dir/osd/keyring" 2>"$dir/log/osd-mkfs.err" \
        || { cat "$dir/log/osd-mkfs.err" >&2; die "ceph-osd --mkfs failed"; }
    ceph-osd "${c[@]}" -i "$id" --keyring "$dir/osd/keyring" 2>>"$dir/log/daemons.err"
    local deadline=$((SECONDS + 60))
    until ceph "${c[@]}" osd dump 2>/dev/null | grep -q "^osd.$id up .* in "; do
        ((SECONDS < deadline)) || die "the OSD did not come up in 60 s (log: $dir/log)"
        sleep 0.5
    done
    ceph "${c[@]}" osd pool create "$pool" 8 8 >/dev/null 2>&1
    ceph "${c[@]}" osd pool set "$pool" size 1 --yes-i-really-mean-it >/dev/null 2>&1
    rbd "${c[@]}" pool init "$pool"
    until rbd "${c[@]}" ls "$pool" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "pool '$pool' did not become ready in 60 s"
        sleep 0.5
    done
}

stop() {
    local dir=$1
    [[ -f $dir/ceph.conf ]] || die "'$dir' holds no cluster"
    local pids=()
    for f in "$dir"/run/*.pid; do
        [[ -f $f ]] && pids+=("$(cat "$f")")
    done
    ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    ((${#pids[@]})) && kill -9 "${pids[@]}" 2>/dev/null || true
    rm -rf "$dir"
}

case ${1:-} in
    start) [[ $# -ge 2 ]] || die "usage: $0 start DIR [POOL]"; start "$2" "${3:-rbd}" ;;
    stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR [POOL] | stop DIR" ;;
esac
