#!/usr/bin/env bash
# Throughput of a userspace NFS pool against the export directory itself.
#
#   scripts/bench-nfs.sh [SIZE_MIB] [REPS]     (defaults: 1024 MiB, 3 reps)
#
# Starts NFS-Ganesha (VFS backend) on loopback exporting a temp directory on
# the same filesystem as /var/tmp, a release poolfs with a `netfs` pool
# (client = "userspace", NFSv3) on it, and times with dd, each run after
# dropping the page cache:
#   write  SIZE MiB of random data, 1 MiB blocks, conv=fsync
#   read   the same file back, 1 MiB blocks
# on the export directory (native) and through poolfs. Prints MiB/s per run,
# the median, and poolfs/native ratios. Not a timed test: nothing fails on a
# slow machine. Needs root, ganesha.nfsd and rpcbind
# (scripts/install-test-deps.sh).
# Environment: READ_AHEAD=KIB passes `--read-ahead KIB` to poolfs mount.
set -euo pipefail

size=${1:-1024}
reps=${2:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$here/target/release/poolfs"
[[ $(id -u) -eq 0 ]] || { echo "bench-nfs: must run as root" >&2; exit 2; }
command -v ganesha.nfsd >/dev/null || { echo "bench-nfs: ganesha.nfsd missing" >&2; exit 2; }
[[ -x "$bin" ]] || (cd "$here" && cargo build --release --quiet)

work=$(mktemp -d /var/tmp/bench-nfs.XXXXXX)
ganesha_pid= rpcbind_pid= poolfs_pid=
cleanup() {
    [[ -n "$poolfs_pid" ]] && kill "$poolfs_pid" 2>/dev/null && wait "$poolfs_pid" 2>/dev/null
    mountpoint -q "$work/mnt" && umount -l "$work/mnt"
    [[ -n "$ganesha_pid" ]] && kill -9 "$ganesha_pid" 2>/dev/null
    [[ -n "$rpcbind_pid" ]] && kill "$rpcbind_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/export" "$work/rec" "$work/mnt"
if ! (exec 3<>/dev/tcp/127.0.0.1/111) 2>/dev/null; then
    rpcbind -f -w & rpcbind_pid=$!
    sleep 0.5
fi
cat > "$work/ganesha.conf" <<EOF
NFS_CORE_PARAM { NFS_Port = 22049; MNT_Port = 22048; NLM_Port = 22047; Rquota_Port = 22046;
  Bind_Addr = 127.0.0.1; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = "$work/rec"; }
MDCACHE { Dir_Chunk = 0; }
EXPORT { Export_Id = 1; Path = "$work/export"; Pseudo = "$work/export"; Protocols = 3, 4;
  Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; SecType = sys;
  Attr_Expiration_Time = 0; FSAL { Name = VFS; } }
EOF
ganesha.nfsd -F -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" -N NIV_EVENT &
ganesha_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/22049) 2>/dev/null && break; sleep 0.1; done

ra=()
[[ -n "${READ_AHEAD:-}" ]] && ra=(--read-ahead "$READ_AHEAD")
"$bin" mount "$work/mnt" --state-dir "$work/state" --foreground "${ra[@]}" 2>"$work/poolfs.log" &
poolfs_pid=$!
for _ in $(seq 100); do [[ -e "$work/mnt/default" ]] && break; sleep 0.1; done
mkdir "$work/mnt/nfs"
cat > "$work/mnt/nfs/config" <<EOF
type = "netfs"
source = "127.0.0.1:$work/export"
target = "$work/unused"
client = "userspace"
port = 22049
mount_port = 22048
EOF
echo start > "$work/mnt/nfs/status"

head -c "$((size << 20))" /dev/urandom > "$work/src.bin"
mibs() { awk -v b="$((size << 20))" -v t="$1" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }
timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A res
for where in native poolfs; do
    dir="$work/export"; [[ $where == poolfs ]] && dir="$work/mnt/nfs"
    w=() r=()
    for _ in $(seq "$reps"); do
        rm -f "$dir/f.bin"; sync; echo 3 > /proc/sys/vm/drop_caches
        w+=("$(mibs "$(timed dd if="$work/src.bin" of="$dir/f.bin" bs=1M conv=fsync)")")
        sync; echo 3 > /proc/sys/vm/drop_caches
        r+=("$(mibs "$(timed dd if="$dir/f.bin" of=/dev/null bs=1M)")")
    done
    res[$where-write]=$(median "${w[@]}"); res[$where-read]=$(median "${r[@]}")
    echo "$where: write MiB/s ${w[*]} (median ${res[$where-write]}); read MiB/s ${r[*]} (median ${res[$where-read]})"
done
for op in write read; do
    awk -v p="${res[poolfs-$op]}" -v n="${res[native-$op]}" -v op="$op" \
        'BEGIN { printf "%s: poolfs userspace NFS %s MiB/s, export directory %s MiB/s, ratio %.2f\n", op, p, n, p / n }'
done
