#!/usr/bin/env bash
# bench.sh - poolfs against the backing directory ("native"), bindfs and mergerfs.
#
# Mounts poolfs (both I/O paths, poolfs-pt = --io passthrough and
# poolfs-daemon = --io daemon, when the binary has --io; otherwise one variant
# "poolfs"), bindfs and mergerfs over ONE backing directory (each target works
# in its own sub-directory BACKING/w-<target>), runs the same jobs on each and
# on the backing directory itself, and prints one Markdown table of medians
# with ratios to native. Run as root.
#
# Usage: scripts/bench.sh [-n REPEATS] [-t RUNTIME] [-z SIZE] [-s SCRATCH]
#                         [-p "TARGETS"] [-j "JOBS"] [--smoke]
#   -n REPEATS  repetitions; the table shows medians (default 3)
#   -t RUNTIME  seconds per time-based fio job (default 10)
#   -z SIZE     fio file size (default 2G)
#   -s SCRATCH  work area on a real disk filesystem, not tmpfs
#               (default /var/tmp/poolfs-bench); results in SCRATCH/results-<stamp>/
#   -p TARGETS  targets to run (native is always included); default
#               "native poolfs-pt poolfs-daemon bindfs mergerfs" (or "native poolfs
#               bindfs mergerfs" without --io); also: poolfs (no --io flag),
#               poolfs-auto, poolfs-metrics (passthrough with --metrics on),
#               bindfs-plain (O_DIRECT cleared), mergerfs-dio (direct_io),
#               poolfs-pt-uring and poolfs-daemon-uring (--transport uring:
#               requests through FUSE-over-io_uring instead of /dev/fuse)
#   -j JOBS     jobs to run (default all): rss perf meta clone guest scale nfs rbd
#   --smoke     very short run to check the script works (1 repetition, 1 s jobs,
#               64M files, 200 metadata files, 256M clone with 16M data, 500 volumes,
#               a 256 MiB guest disk with aio=native only, scale job at 100 and 300
#               volumes)
# Scale job: for each N in SCALE_NS (default "1000 10000 100000"), N sparse
# 1 GiB volumes made in the backing directory, then through each target:
# `ls -l` of them, the first delete (the pool's headers read once), 10 more
# deletes 0.3 s apart (their time without the pauses), and for poolfs
# `poolfs vol-list`, a read of `info`, the server's descriptors and RSS, and
# the time from `kill -9` of the server to its successor serving, with up to
# 1000 of the volumes open; the slope rows divide the cost at the largest N
# by the cost at the smallest. With the NFS jobs too: `ls -l` of NFS_SCALE_N
# (10000) files and 10 deletes through both userspace NFS pools, against the
# export directory. Where libvirt is installed, a libvirt dir pool of the same
# volumes (a libvirtd already running, or one started and stopped here):
# pool-start, pool-refresh, virsh vol-list and 10 vol-deletes.
# Guest jobs (native and poolfs targets): a qemu guest (KVM where it boots the
# guest, else TCG; the table says which) with fio inside (scripts/guest-image.sh,
# POOLFS_GUEST_FIO=1) whose only disk is a raw image on the target, cache=none,
# once with aio=native and once with aio=io_uring (GUEST_AIOS; --smoke: native
# only): 4k random read and write at QD32, 1M sequential read and write at QD8,
# RUNTIME s each.
# NFS jobs (when nfs-ganesha, rpcbind and qemu's NFS driver, qemu-block-extra,
# are installed): one NFS-Ganesha on 127.0.0.1 (NFSv3 and v4.1), a 1 GiB
# (NFS_SIZE_MB) `qemu-img convert` of random data onto the export and back
# off it (to /dev/shm), through the export directory itself ("native"),
# poolfs userspace NFS pools (NFSv3, NFSv3 with nconnect = 4, NFSv4.1; through
# the first poolfs target)
# and qemu's own NFS driver (libnfs, NFSv3); on each copy, `qemu-img bench` of
# NFS_QD16_N 4 KiB reads and writes at queue depth 16, cache=none, strided
# 1 MiB + 4 KiB apart (no read-ahead helps); with the guest job too, the fio
# guest with its disk on the export through both poolfs pools (aio=native)
# and through qemu's libnfs (file=nfs://...). Starts rpcbind if none answers
# on 127.0.0.1:111, and stops it again at the end.
# RBD jobs (when ceph-mon, rbd and qemu's rbd driver, qemu-block-extra, are
# installed): a throw-away single-node Ceph cluster (scripts/ceph-cluster.sh,
# loopback), an rbd pool "ceph" in the first poolfs target, and the same
# 1 GiB (RBD_SIZE_MB) `qemu-img convert` onto and off the cluster and
# `qemu-img bench` 4 KiB QD16 reads and writes as the NFS jobs, through
# poolfs ("poolfs-rbd") and through qemu's own rbd driver ("qemu-rbd",
# rbd:rbd/<image>:conf=...); with the guest job too, the fio guest on an
# image through both.
# Environment: POOLFS (default <repo>/target/release/poolfs), META_N (5000),
#   VOLS (10000), CLONE_SIZE (8G), CLONE_DATA (256M), GUEST_DISK_MB (1024),
#   NFS_SIZE_MB (1024), NFS_QD16_N (20000), SCALE_NS ("1000 10000 100000"), NFS_SCALE_N (10000),
#   POOLFS_BEFORE (a second poolfs binary, say main before a change, for the
#   targets poolfs-pt-before and poolfs-daemon-before: before and after
#   columns of one run, e.g. -p "poolfs-pt-before poolfs-pt"),
#   POOLFS_ARGS (more options for every poolfs mount, e.g. "--read-ahead 128").
# Exit status: 0 when every job ran (a target failing an operation is recorded as
# "fail", not an error); non-zero when the script itself broke, a poolfs variant
# did not mount, or a job failed on native.
# Only mounts it made are unmounted, only processes it started are signalled.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

o_n='' o_t='' o_z='' SCRATCH=/var/tmp/poolfs-bench TARGETS='' SMOKE=0 JOBS="rss perf meta clone guest scale nfs rbd"
while [ $# -gt 0 ]; do
  case $1 in
    -n) o_n=${2:?-n needs a value}; shift 2 ;;
    -t) o_t=${2:?-t needs a value}; shift 2 ;;
    -z) o_z=${2:?-z needs a value}; shift 2 ;;
    -s) SCRATCH=${2:?-s needs a value}; shift 2 ;;
    -p) TARGETS=${2:?-p needs a value}; shift 2 ;;
    -j) JOBS=${2:?-j needs a value}; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$SMOKE" = 1 ]; then
  REPEATS=${o_n:-1} RUNTIME=${o_t:-1} SIZE=${o_z:-64M}
  META_N=200 VOLS=500 CLONE_SIZE=256M CLONE_DATA=16M GUEST_DISK_MB=256 NFS_SIZE_MB=64 NFS_QD16_N=2000 RBD_SIZE_MB=64
  SCALE_NS="100 300" NFS_SCALE_N=200 GUEST_AIOS=native
else
  REPEATS=${o_n:-3} RUNTIME=${o_t:-10} SIZE=${o_z:-2G}
  META_N=${META_N:-5000} VOLS=${VOLS:-10000} CLONE_SIZE=${CLONE_SIZE:-8G} CLONE_DATA=${CLONE_DATA:-256M}
  GUEST_DISK_MB=${GUEST_DISK_MB:-1024} NFS_SIZE_MB=${NFS_SIZE_MB:-1024} NFS_QD16_N=${NFS_QD16_N:-20000}
  RBD_SIZE_MB=${RBD_SIZE_MB:-1024}
  SCALE_NS=${SCALE_NS:-"1000 10000 100000"} NFS_SCALE_N=${NFS_SCALE_N:-10000}
  GUEST_AIOS=${GUEST_AIOS:-"native io_uring"}
fi
job() { case " $JOBS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for j in $JOBS; do
  case $j in rss|perf|meta|clone|guest|scale|nfs|rbd) ;; *) echo "bench.sh: unknown job '$j'" >&2; exit 2 ;; esac
done
POOLFS=${POOLFS:-$ROOT/target/release/poolfs}
for v in REPEATS RUNTIME META_N VOLS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: $v must be a positive integer" >&2; exit 2; }
done
if ! { SIZE_B=$(numfmt --from=iec "$SIZE") && CLONE_B=$(numfmt --from=iec "$CLONE_SIZE") &&
        CDATA_B=$(numfmt --from=iec "$CLONE_DATA"); }; then
  echo "bench.sh: bad size ($SIZE, $CLONE_SIZE, $CLONE_DATA)" >&2; exit 2
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; [ -z "${RES:-}" ] || printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >>"$RES/logs/bench.log"; }
die() { log "ERROR: $*"; exit 1; }
trap 'log "ERROR: line $LINENO: $BASH_COMMAND (exit $?)"' ERR

# ---------- preconditions ----------
[ "$(id -u)" = 0 ] || die "run as root (mounts, drop_caches, /proc/PID/clear_refs)"
for t in fio python3 numfmt findmnt; do command -v "$t" >/dev/null || die "$t is not installed (scripts/install-test-deps.sh)"; done
[ -x "$POOLFS" ] || die "no poolfs binary at $POOLFS (set POOLFS=...)"
POOLFS=$(cd "$(dirname "$POOLFS")" && pwd)/$(basename "$POOLFS")
# capture the help first: `poolfs ... | grep -q` can die of SIGPIPE and fail under pipefail
HAVE_IO=0; help=$("$POOLFS" mount --help 2>&1) || true
if grep -q -- '--io' <<<"$help"; then HAVE_IO=1; fi
if [ -z "$TARGETS" ]; then
  if [ $HAVE_IO = 1 ]; then TARGETS="native poolfs-pt poolfs-daemon bindfs mergerfs"
  else TARGETS="native poolfs bindfs mergerfs"; fi
fi
case " $TARGETS " in *" native "*) ;; *) TARGETS="native $TARGETS" ;; esac
for p in $TARGETS; do
  case $p in
    native|poolfs|bindfs|bindfs-plain|mergerfs|mergerfs-dio) ;;
    poolfs-pt|poolfs-daemon|poolfs-auto) [ $HAVE_IO = 1 ] || die "$p needs 'poolfs mount --io' ($POOLFS has no --io)" ;;
    poolfs-pt-before|poolfs-daemon-before) [ -x "${POOLFS_BEFORE:-}" ] || die "$p needs POOLFS_BEFORE=<a poolfs binary>" ;;
    poolfs-pt-uring|poolfs-daemon-uring)
      grep -q -- '--transport' <<<"$help" || die "$p needs 'poolfs mount --transport' ($POOLFS has none)"
      [ -e /sys/module/fuse/parameters/enable_uring ] || die "$p needs a kernel with FUSE-over-io_uring (6.14+)" ;;
    poolfs-metrics) grep -q -- '--metrics' <<<"$help" || die "$p needs 'poolfs mount --metrics' ($POOLFS has none)" ;;
    *) die "unknown target '$p'" ;;
  esac
done

mkdir -p "$SCRATCH"; SCRATCH=$(cd "$SCRATCH" && pwd)
FSTYPE=$(findmnt -no FSTYPE -T "$SCRATCH" | head -1)
case $FSTYPE in tmpfs|ramfs|overlay|fuse*) die "$SCRATCH is on $FSTYPE; use -s with a directory on a real disk filesystem" ;; esac
df -h "$SCRATCH" >&2
NEED=$(( SIZE_B + 2 * CDATA_B + (1 << 30) ))
AVAIL=$(df -B1 --output=avail "$SCRATCH" | tail -1 | tr -d ' ')
[ "$AVAIL" -ge "$NEED" ] || die "$SCRATCH has $(numfmt --to=iec "$AVAIL") free, needs $(numfmt --to=iec "$NEED")"

BACKING=$SCRATCH/backing MNTROOT=$SCRATCH/mnt
RES=$SCRATCH/results-$(date +%Y%m%d-%H%M%S)
mkdir -p "$BACKING" "$MNTROOT" "$RES/fio" "$RES/logs"
# run a private copy, so that a rebuild during the run cannot mix two builds
POOLFS_SRC=$POOLFS POOLFS=$RES/poolfs
cp -p "$POOLFS_SRC" "$POOLFS"
if [ -n "${POOLFS_BEFORE:-}" ]; then cp -p "$POOLFS_BEFORE" "$RES/poolfs-before"; POOLFS_BEFORE=$RES/poolfs-before; fi
RAW=$RES/raw.tsv FAILS=$RES/failures.tsv
: >"$RAW"; : >"$FAILS"
log "targets: $TARGETS | n=$REPEATS t=${RUNTIME}s size=$SIZE meta=$META_N clone=$CLONE_SIZE/$CLONE_DATA vols=$VOLS | results $RES"

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }            # rep target metric value
failed() {                                                                      # rep target metric message
  record "$1" "$2" "$3" fail
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ' | cut -c1-200)" >>"$FAILS"
  log "  $2: $3: fail: $4"
}
CAN_DROP=1
drop_caches() {
  sync
  if [ $CAN_DROP = 1 ] && ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    CAN_DROP=0; log "WARN: cannot drop caches; 'cold' numbers are not cold"
  fi
}
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# ---------- targets: mount / unmount ----------
declare -A PID=() MNT=() WORK=() BWORK=()
MOUNT_FAILED=0
start_target() {  # target -> sets WORK[target] (where jobs run) and BWORK (same dir on the backing fs)
  local p=$1 m=$MNTROOT/$1 state=$SCRATCH/state-$1 i pool='' bin=$POOLFS
  local -a cmd io=()
  BWORK[$p]=$BACKING/w-$p
  rm -rf "${BWORK[$p]:?}"; mkdir -p "${BWORK[$p]}"
  if [ "$p" = native ]; then WORK[$p]=${BWORK[$p]}; return 0; fi
  if mountpoint -q "$m"; then log "skip $p: $m is already a mountpoint (not ours)"; return 1; fi
  mkdir -p "$m"
  case $p in
    poolfs*)
      case $p in *-before) bin=$POOLFS_BEFORE ;; esac
      case ${p%-before} in
        poolfs-pt) io=(--io passthrough) ;; poolfs-daemon) io=(--io daemon) ;; poolfs-auto) io=(--io auto) ;;
        # the FUSE-over-io_uring transport (poolfs turns the kernel's enable_uring on)
        poolfs-pt-uring) io=(--io passthrough --transport uring) ;; poolfs-daemon-uring) io=(--io daemon --transport uring) ;;
        # passthrough with the Prometheus endpoint on
        poolfs-metrics) io=(--io passthrough --metrics "127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')") ;;
      esac
      rm -rf "$state"; mkdir -p "$state/defs"
      printf 'uuid = "00000000-0000-0000-0000-000000000001"\nautostart = true\n[pool]\ntype = "dir"\ntarget = "%s"\n' \
        "${BWORK[$p]}" >"$state/defs/bench.toml"
      [ -z "$NFS_PORT" ] || nfs_pools "$state"
      [ -z "$RBD_DIR" ] || rbd_pool "$state"
      # shellcheck disable=SC2206 # POOLFS_ARGS is split into words on purpose
      cmd=("$bin" mount "$m" --state-dir "$state" --foreground "${io[@]}" ${POOLFS_ARGS:-})
      pool=bench ;;
    # bindfs 1.14 (libfuse2): big_writes for 1 MiB writes; multithreaded; O_DIRECT forwarded (default clears it)
    bindfs)       cmd=(bindfs -f --no-allow-other --multithreaded -o big_writes --forward-odirect=4096 "$BACKING" "$m") ;;
    bindfs-plain) cmd=(bindfs -f --no-allow-other --multithreaded -o big_writes "$BACKING" "$m") ;;
    # mergerfs: page cache + writeback cache, 1 MiB messages (O_DIRECT writes get EINVAL)
    mergerfs)     cmd=(mergerfs -f -o "cache.files=auto-full,cache.writeback=true,dropcacheonclose=true,fuse_msg_size=256,category.create=ff,fsname=bench-$p" "$BACKING" "$m") ;;
    mergerfs-dio) cmd=(mergerfs -f -o "cache.files=off,dropcacheonclose=true,fuse_msg_size=256,category.create=ff,fsname=bench-$p" "$BACKING" "$m") ;;
  esac
  command -v "${cmd[0]}" >/dev/null || { log "skip $p: ${cmd[0]} not installed"; return 1; }
  "${cmd[0]}" --version >"$RES/logs/$p.version" 2>&1 || true
  ( NO_COLOR=1 exec "${cmd[@]}" ) >"$RES/logs/$p.log" 2>&1 &
  PID[$p]=$! MNT[$p]=$m
  for i in $(seq 300); do
    if [ -n "$pool" ]; then [ -e "$m/$pool/status" ] && break; else mountpoint -q "$m" && break; fi
    alive "${PID[$p]}" || break
    sleep 0.1
  done
  if [ -n "$pool" ] && [ "$(cat "$m/$pool/status" 2>/dev/null)" = running ]; then WORK[$p]=$m/$pool
  elif [ -z "$pool" ] && mountpoint -q "$m"; then WORK[$p]=$m/w-$p
  else log "mount $p failed after ${i}x0.1 s (see $RES/logs/$p.log)"; stop_target "$p"; return 1; fi
  log "mounted $p (pid ${PID[$p]}) at $m"
}
stop_target() {
  local p=$1 pid=${PID[$1]:-} m=${MNT[$1]:-} i
  [ -n "$pid" ] || return 0
  case $p in
    poolfs*) kill -TERM "$pid" 2>/dev/null || true ;;     # poolfs unmounts itself on SIGTERM
    *) mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || { sleep 1; fusermount3 -u "$m" 2>/dev/null; } || true; } ;;
  esac
  for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then log "WARN: $p (pid $pid) still running after ${i}x0.1 s; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  wait "$pid" 2>/dev/null || true
  if mountpoint -q "$m"; then log "WARN: $m still mounted; lazy unmount"; fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" || true; fi
  unset "PID[$p]"
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$? p
  trap - ERR
  for p in "${!PID[@]}"; do stop_target "$p"; done
  [ -z "${NFS_DIR:-}" ] || nfs_stop
  rbd_stop
  libvirt_stop
  [ -z "${BACKING:-}" ] || rm -f "$BACKING/nfs-src.img" "$BACKING/rbd-src.img"
  for p in $TARGETS; do
    [ -n "${MNT[$p]:-}" ] && mountpoint -q "${MNT[$p]}" && continue   # never delete under a live mount
    rm -rf "${BACKING:?}/w-$p" "${SCRATCH:?}/state-$p"
  done
  [ -z "${RES:-}" ] || { rm -f "$RES/poolfs"; log "results: $RES (exit $rc)"; }
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------- fio ----------
fio_value() {  # json read|write bw|iops|lat -> MiB/s, IOPS or mean completion latency in µs; fails if fio recorded an error
  python3 - "$@" <<'EOF'
import json, sys
f, d, k = sys.argv[1:4]
t = open(f).read()
j = json.loads(t[t.index('{'):])['jobs'][0]
if j.get('error'): sys.exit(1)
x = j[d]
if k == 'lat': print("%.1f" % (x['clat_ns']['mean'] / 1000))
else: print("%.1f" % (x['bw_bytes'] / 1048576) if k == 'bw' else "%.0f" % x['iops'])
EOF
}
fio_job() {  # rep target metric read|write bw|iops file fio-args...
  local rep=$1 p=$2 metric=$3 d=$4 k=$5 f=$6 slug v msg; shift 6
  slug=$(tr -c 'A-Za-z0-9\n' '-' <<<"${metric%% (*}" | tr -s '-')
  local out=$RES/fio/r$rep-$p-$slug.json
  log "  $p: $metric"
  if fio --name="$slug" --filename="$f" --output-format=json --output="$out" --invalidate=0 \
       --fallocate=none --randrepeat=0 --norandommap "$@" >"$out.log" 2>&1 &&
     v=$(fio_value "$out" "$d" "$k" 2>>"$out.log"); then
    record "$rep" "$p" "$metric" "$v"
  else
    msg=$(grep -hE 'err=|error=|fio: ' "$out.log" "$out" 2>/dev/null | head -1) || true
    failed "$rep" "$p" "$metric" "${msg:-fio failed, see $out.log}"
  fi
}
perf_phase() {  # rep target
  local rep=$1 p=$2 f=${WORK[$2]}/fio.dat
  local -a R=(--bs=4k --size="$SIZE" --time_based --runtime="$RUNTIME")
  rm -f "$f"
  fio_job "$rep" "$p" "seq write 1M (MiB/s)" write bw "$f" --rw=write --bs=1M --size="$SIZE" --ioengine=psync --end_fsync=1
  drop_caches
  fio_job "$rep" "$p" "seq read 1M cold (MiB/s)" read bw "$f" --rw=read --bs=1M --size="$SIZE" --ioengine=psync
  fio_job "$rep" "$p" "seq read 1M warm (MiB/s)" read bw "$f" --rw=read --bs=1M --size="$SIZE" --ioengine=psync --time_based --runtime="$RUNTIME"
  # buffered jobs first, while the file is in the page cache (O_DIRECT writes invalidate cached pages)
  fio_job "$rep" "$p" "rand read 4k psync buffered (IOPS)" read iops "$f" --rw=randread "${R[@]}" --ioengine=psync
  fio_job "$rep" "$p" "rand write 4k psync buffered (IOPS)" write iops "$f" --rw=randwrite "${R[@]}" --ioengine=psync
  sync
  # one request at a time: the round trip itself (lower is better)
  fio_job "$rep" "$p" "rand read 4k QD1 direct latency (µs)" read lat "$f" --rw=randread "${R[@]}" --ioengine=psync --direct=1
  fio_job "$rep" "$p" "rand read 4k libaio QD16 direct (IOPS)" read iops "$f" --rw=randread "${R[@]}" --ioengine=libaio --iodepth=16 --direct=1
  fio_job "$rep" "$p" "rand write 4k libaio QD16 direct (IOPS)" write iops "$f" --rw=randwrite "${R[@]}" --ioengine=libaio --iodepth=16 --direct=1
  rm -f "$f" "${BWORK[$p]}/fio.dat"
  sync
}

# ---------- metadata: create, stat, readdir, unlink META_N empty files ----------
meta_phase() {  # rep target
  local rep=$1 p=$2 d=${WORK[$2]}/meta out=$RES/logs/meta-r$1-$2.txt name v msg
  log "  $p: metadata, $META_N files"
  rm -rf "$d" "${BWORK[$p]}/meta"
  python3 - "$d" "$META_N" >"$out" 2>&1 <<'EOF' || true
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
names = [os.path.join(d, "f%06d" % i) for i in range(n)]
def create():
    for x in names: os.close(os.open(x, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
def stat():
    for x in names: os.stat(x)
def readdir():
    c = sum(1 for _ in os.scandir(d))
    if c != n: raise OSError("readdir saw %d of %d entries" % (c, n))
def unlink():
    for x in names: os.unlink(x)
try: os.mkdir(d)
except OSError as e: print("mkdir failed: %s" % e)
for label, fn in (("create", create), ("stat", stat), ("readdir", readdir), ("unlink", unlink)):
    # stat comes 1.2 s after create: past the 1 s that FUSE daemons
    # (libfuse's default, and poolfs's where it cannot watch) let the kernel cache.
    if fn is stat: time.sleep(1.2)
    try:
        t = time.perf_counter(); fn(); dt = time.perf_counter() - t
        print("%s\t%.0f" % (label, n / dt))
    except Exception as e:
        print("%s\tfail\t%s: %s" % (label, type(e).__name__, e))
EOF
  for name in create stat readdir unlink; do
    v=$(awk -F'\t' -v n="$name" '$1 == n { print $2; exit }' "$out")
    label="$name ($META_N files, ops/s)"
    [ "$name" = stat ] && label="stat 1.2 s after create ($META_N files, ops/s)"
    if [[ $v =~ ^[0-9]+$ ]]; then record "$rep" "$p" "$label" "$v"
    else msg=$(awk -F'\t' -v n="$name" '$1 == n { print $3; exit }' "$out"); failed "$rep" "$p" "$label" "${msg:-$(head -c 200 "$out")}"; fi
  done
  rm -rf "$d" "${BWORK[$p]}/meta"
}

# ---------- clone: cp --reflink=auto --sparse=always of a sparse volume ----------
sparse_py() {  # make|verify ...
  python3 - "$@" <<'EOF'
import os, sys, random
M = 1 << 20
if sys.argv[1] == "make":                        # make FILE SIZE DATA: one 1 MiB chunk per slot, random place
    path, size, data = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    n = max(1, data // M); slot = size // n; r = random.Random(42)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    os.ftruncate(fd, size)
    for k in range(n):
        os.pwrite(fd, os.urandom(M), k * slot + r.randrange(max(1, slot // M)) * M)
    os.fsync(fd); os.close(fd)
else:                                            # verify SRC DST: same size, same data extents, holes read zero
    src, dst = sys.argv[2], sys.argv[3]
    a = os.open(src, os.O_RDONLY); b = os.open(dst, os.O_RDONLY); size = os.fstat(a).st_size
    if os.fstat(b).st_size != size: sys.exit("size differs")
    ext, off = [], 0
    try:
        while off < size:
            d = os.lseek(a, off, os.SEEK_DATA); h = os.lseek(a, d, os.SEEK_HOLE); ext.append((d, h)); off = h
    except OSError: pass
    for s, e in ext:
        for o in range(s, e, M):
            if os.pread(a, min(M, e - o), o) != os.pread(b, min(M, e - o), o): sys.exit("data differs at %d" % o)
    r = random.Random(1)
    for o in (r.randrange(size // 4096) * 4096 for _ in range(256)):
        if not any(s <= o < e for s, e in ext) and os.pread(b, 4096, o) != bytes(4096): sys.exit("hole not zero at %d" % o)
EOF
}
clone_phase() {  # rep target
  local rep=$1 p=$2 src=${WORK[$2]}/clone-src.img dst=${WORK[$2]}/clone-copy.img
  local bsrc=${BWORK[$2]}/clone-src.img bdst=${BWORK[$2]}/clone-copy.img t0 t1 err
  local mt="clone $CLONE_SIZE with $CLONE_DATA data: cp time (s)" ma="clone: allocation of the copy (MiB)"
  log "  $p: clone $CLONE_SIZE volume holding $CLONE_DATA"
  rm -f "$bsrc" "$bdst"
  sparse_py make "$bsrc" "$CLONE_B" "$CDATA_B"        # written on the backing fs: only the copy is measured
  drop_caches
  t0=$EPOCHREALTIME
  if err=$(cp --reflink=auto --sparse=always "$src" "$dst" 2>&1 && sync "$dst" 2>&1); then
    t1=$EPOCHREALTIME
    if err=$(sparse_py verify "$bsrc" "$bdst" 2>&1); then
      record "$rep" "$p" "$mt" "$(python3 -c "print(round($t1 - $t0, 2))")"
    else failed "$rep" "$p" "$mt" "copy differs from the source: $err"; fi
    record "$rep" "$p" "$ma" "$(( ($(du -k "$bdst" | cut -f1) + 512) / 1024 ))"
  else
    failed "$rep" "$p" "$mt" "cp: $err"; failed "$rep" "$p" "$ma" "no copy"
  fi
  rm -f "$dst" "$src" "$bsrc" "$bdst"
}

# ---------- daemon peak RSS after creating VOLS volumes and stat-ing them all ----------
rss_phase() {  # rep target
  local rep=$1 p=$2 d=${WORK[$2]} pid=${PID[$2]:-} out=$RES/logs/rss-r$1-$2.txt hwm m
  [ -n "$pid" ] || return 0                            # native: no daemon
  m="daemon peak RSS, $VOLS volumes (MiB)"
  log "  $p: $VOLS volumes, peak RSS of pid $pid"
  # reset the peak ("5" = clear VmHWM, Linux >= 4.0) so the I/O jobs before do not count
  { echo 5 >"/proc/$pid/clear_refs"; } 2>/dev/null || log "WARN: cannot reset VmHWM of $p: the peak is over its whole life"
  echo "before: $(grep -E '^Vm(RSS|HWM):' "/proc/$pid/status" | tr -s '\t\n ' '  ')" >"$out"
  if python3 - "$d" "$VOLS" >>"$out" 2>&1 <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
names = [os.path.join(d, "vol-%05d.img" % i) for i in range(n)]
t = time.perf_counter()
for x in names:                          # a sparse 1 GiB volume each
    fd = os.open(x, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644); os.ftruncate(fd, 1 << 30); os.close(fd)
t1 = time.perf_counter()
seen = set(os.listdir(d))
missing = [x for x in names if os.path.basename(x) not in seen]
if missing: sys.exit("readdir misses %d volumes" % len(missing))
for x in names: os.stat(x)
print("created %d in %.2f s, listed and stat-ed in %.2f s" % (n, t1 - t, time.perf_counter() - t1))
EOF
  then
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    if [[ $hwm =~ ^[0-9]+$ ]]; then record "$rep" "$p" "$m" "$(python3 -c "print(round($hwm / 1024, 1))")"; echo "after: VmHWM: $hwm kB" >>"$out"
    else failed "$rep" "$p" "$m" "no VmHWM for pid $pid"; fi
  else failed "$rep" "$p" "$m" "$(tail -1 "$out")"; fi
  find "$d" -maxdepth 1 -name 'vol-*.img' -delete 2>/dev/null || true
  find "${BWORK[$p]}" -maxdepth 1 -name 'vol-*.img' -delete
}

# ---------- scale: N volumes, listed and deleted through the target ----------
make_volumes() {  # dir n: n sparse 1 GiB volumes v000000.img... in dir
  python3 - "$1" "$2" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    fd = os.open(os.path.join(d, "v%06d.img" % i), os.O_CREAT | os.O_WRONLY, 0o644)
    os.ftruncate(fd, 1 << 30); os.close(fd)
EOF
}
list_and_delete() {  # dir n: `ls -l` of the n volumes, the first delete, 10 more 0.3 s apart (lines: what<TAB>seconds)
  python3 - "$1" "$2" <<'EOF'
import os, subprocess, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
lines = subprocess.run(["ls", "-l", d], check=True, capture_output=True, text=True).stdout.count("\n")
print("ls\t%.3f" % (time.perf_counter() - t))
if lines != n + 1: sys.exit("ls -l listed %d of %d" % (lines - 1, n))
t = time.perf_counter(); os.unlink(os.path.join(d, "v%06d.img" % 0))
print("first\t%.4f" % (time.perf_counter() - t))
spent = 0.0
for i in range(1, 11):
    time.sleep(0.3)
    t = time.perf_counter(); os.unlink(os.path.join(d, "v%06d.img" % i)); spent += time.perf_counter() - t
print("deletes\t%.4f" % spent)
EOF
}
scale_phase() {  # rep target
  local rep=$1 p=$2 d=${WORK[$2]}/scale b=${BWORK[$2]}/scale out n k v server lo hi
  local -A dels=()
  for n in $SCALE_NS; do
    out=$RES/logs/scale-r$rep-$p-$n.txt
    log "  $p: scale, $n volumes"
    rm -rf "$b"; mkdir -p "$b"
    make_volumes "$b" "$n"
    sync; sleep 1.2                                  # past any 1 s cache
    if list_and_delete "$d" "$n" >"$out" 2>&1; then
      v=$(awk -F'\t' '$1 == "ls" { print $2 }' "$out"); record "$rep" "$p" "ls -l, $n volumes (s)" "$v"
      v=$(awk -F'\t' '$1 == "first" { print $2 }' "$out"); record "$rep" "$p" "first delete, $n volumes (s)" "$v"
      v=$(awk -F'\t' '$1 == "deletes" { print $2 }' "$out"); record "$rep" "$p" "10 deletes, $n volumes (s)" "$v"; dels[$n]=$v
    else
      failed "$rep" "$p" "ls -l, $n volumes (s)" "$(tail -1 "$out")"
    fi
    case $p in poolfs*)
      server=$(cat "$SCRATCH/state-$p/server.pid" 2>/dev/null || echo "${PID[$p]}")
      v=$(python3 - "$POOLFS" "${MNT[$p]}" <<'EOF'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run([sys.argv[1], "vol-list", "bench", "--mount", sys.argv[2]], check=True, stdout=subprocess.DEVNULL)
print(round(time.perf_counter() - t, 3))
EOF
      ) && record "$rep" "$p" "poolfs vol-list, $n volumes (s)" "$v" || failed "$rep" "$p" "poolfs vol-list, $n volumes (s)" "vol-list failed"
      v=$(python3 -c "
import time; t = time.perf_counter()
for _ in range(10): open('${MNT[$p]}/bench/info').read()
print(round((time.perf_counter() - t) / 10 * 1000, 1))")
      record "$rep" "$p" "info, $n volumes (ms)" "$v"
      record "$rep" "$p" "server descriptors, $n volumes" "$(find "/proc/$server/fd" -mindepth 1 -maxdepth 1 | wc -l)"
      record "$rep" "$p" "server RSS, $n volumes (MiB)" "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status")"
      # kill -9 of the server with every volume known and up to 1000 of them open
      if v=$(python3 - "$d" "$SCRATCH/state-$p/server.pid" <<'EOF' 2>>"$out"
import os, signal, sys, time
d, pidfile = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(d))[:1000]
fds = [os.open(os.path.join(d, x), os.O_RDONLY) for x in names]
old = int(open(pidfile).read())
t = time.perf_counter(); os.kill(old, signal.SIGKILL)
while True:
    try:
        if int(open(pidfile).read()) != old:
            os.stat(os.path.join(d, names[-1])); break
    except (OSError, ValueError): pass
    if time.perf_counter() - t > 30: sys.exit("no new server within 30 s")
    time.sleep(0.001)
ms = (time.perf_counter() - t) * 1000
for fd in fds: os.pread(fd, 1, 0); os.close(fd)
print(round(ms, 1))
EOF
      ); then record "$rep" "$p" "takeover after kill -9, $n volumes known, 1000 open (ms)" "$v"
      else failed "$rep" "$p" "takeover after kill -9, $n volumes known, 1000 open (ms)" "$(tail -1 "$out")"; fi
      ;;
    esac
    find "$b" -mindepth 1 -delete
  done
  lo=${SCALE_NS%% *} hi=${SCALE_NS##* }
  if [ -n "${dels[$lo]:-}" ] && [ -n "${dels[$hi]:-}" ]; then
    record "$rep" "$p" "10 deletes: $hi / $lo volumes (slope)" "$(python3 -c "print(round(${dels[$hi]} / max(${dels[$lo]}, 1e-4), 2))")"
  fi
  rm -rf "$b"
}

# ---------- scale, libvirt: the same volumes as a libvirt dir pool ----------
LIBVIRTD_PID='' LIBVIRT_OK=''
libvirt_setup() {  # once: a libvirtd answering virsh (one already running, or one started here)
  command -v virsh >/dev/null && command -v libvirtd >/dev/null || { log "skip the libvirt rows: libvirt is not installed"; return 1; }
  if ! timeout 10 virsh -q version >/dev/null 2>&1; then
    printf 'log_outputs="3:file:%s"\n' "$RES/logs/libvirtd.log" >"$RES/logs/libvirtd.conf"
    libvirtd --daemon -f "$RES/logs/libvirtd.conf" -p "$SCRATCH/libvirtd.pid" >>"$RES/logs/libvirtd.log" 2>&1 || true
    local i
    for i in $(seq 100); do timeout 10 virsh -q version >/dev/null 2>&1 && break; sleep 0.2; done
    LIBVIRTD_PID=$(cat "$SCRATCH/libvirtd.pid" 2>/dev/null || true)
  fi
  timeout 10 virsh -q version >/dev/null 2>&1 || { log "skip the libvirt rows: libvirtd does not answer (logs/libvirtd.log)"; libvirt_stop; return 1; }
  LIBVIRT_OK=1
}
libvirt_stop() {
  timeout 120 virsh -q pool-destroy poolfs-bench-scale >/dev/null 2>&1 || true
  [ -z "$LIBVIRTD_PID" ] || { kill "$LIBVIRTD_PID" 2>/dev/null || true; LIBVIRTD_PID=''; }
}
libvirt_scale_phase() {  # rep: pool-start, pool-refresh, vol-list and 10 vol-deletes of N volumes, as in scale_phase
  local rep=$1 b=$BACKING/w-libvirt/scale n t v i
  [ -n "$LIBVIRT_OK" ] || return 0
  for n in $SCALE_NS; do
    log "  libvirt: scale, $n volumes"
    rm -rf "$b"; mkdir -p "$b"
    make_volumes "$b" "$n"
    t=$(date +%s.%N)
    if timeout 120 virsh -q pool-create-as poolfs-bench-scale dir --target "$b" >>"$RES/logs/libvirt.log" 2>&1; then
      record "$rep" libvirt "libvirt pool-start, $n volumes (s)" "$(python3 -c "print(round($(date +%s.%N) - $t, 3))")"
      t=$(date +%s.%N)
      if timeout 120 virsh -q pool-refresh poolfs-bench-scale >>"$RES/logs/libvirt.log" 2>&1; then
        record "$rep" libvirt "libvirt pool-refresh, $n volumes (s)" "$(python3 -c "print(round($(date +%s.%N) - $t, 3))")"
      else failed "$rep" libvirt "libvirt pool-refresh, $n volumes (s)" "$(tail -1 "$RES/logs/libvirt.log")"; fi
      t=$(date +%s.%N)
      if timeout 120 virsh -q vol-list poolfs-bench-scale >/dev/null 2>>"$RES/logs/libvirt.log"; then
        record "$rep" libvirt "virsh vol-list, $n volumes (s)" "$(python3 -c "print(round($(date +%s.%N) - $t, 3))")"
      else failed "$rep" libvirt "virsh vol-list, $n volumes (s)" "$(tail -1 "$RES/logs/libvirt.log")"; fi
      v=0 k=ok
      for i in $(seq 1 10); do
        sleep 0.3; t=$(date +%s.%N)
        timeout 120 virsh -q vol-delete "v$(printf %06d "$i").img" --pool poolfs-bench-scale >>"$RES/logs/libvirt.log" 2>&1 || k=fail
        v=$(python3 -c "print($v + $(date +%s.%N) - $t)")
      done
      if [ $k = ok ]; then record "$rep" libvirt "10 deletes, $n volumes (s)" "$(python3 -c "print(round($v, 4))")"
      else failed "$rep" libvirt "10 deletes, $n volumes (s)" "$(tail -1 "$RES/logs/libvirt.log")"; fi
      timeout 120 virsh -q pool-destroy poolfs-bench-scale >>"$RES/logs/libvirt.log" 2>&1 || true
    else
      failed "$rep" libvirt "libvirt pool-start, $n volumes (s)" "$(tail -1 "$RES/logs/libvirt.log")"
    fi
    find "$b" -mindepth 1 -delete
  done
  rm -rf "$BACKING/w-libvirt"
}

# ---------- userspace NFS: poolfs's own client against qemu's (libnfs), one Ganesha export ----------
NFS_PORT='' NFS_MNTPORT='' NFS_PID='' RPCBIND_PID='' NFS_DIR=$SCRATCH/nfs NFS_TARGET=''
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
nfs_setup() {  # once, before the targets mount: NFS-Ganesha on 127.0.0.1 (NFSv3 + v4.1) exporting NFS_DIR/export
  local i
  for t in ganesha.nfsd rpcbind qemu-img; do
    command -v "$t" >/dev/null || { log "skip the NFS jobs: $t is not installed"; return 1; }
  done
  # qemu's NFS driver (libnfs) is a module of qemu-block-extra
  if ! find /usr/lib/*/qemu -name 'block-nfs.so' 2>/dev/null | grep -q .; then
    log "skip the NFS jobs: qemu's NFS driver is not installed (qemu-block-extra)"; return 1
  fi
  rm -rf "${NFS_DIR:?}"; mkdir -p "$NFS_DIR/export" "$NFS_DIR/recovery"
  # libnfs finds the MOUNT and NFS ports through rpcbind; start one unless one answers
  if ! (exec 3<>/dev/tcp/127.0.0.1/111) 2>/dev/null; then
    rpcbind -f -w & RPCBIND_PID=$!
    for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/111) 2>/dev/null && break; sleep 0.1; done
  fi
  NFS_PORT=$(free_port) NFS_MNTPORT=$(free_port)
  cat >"$NFS_DIR/ganesha.conf" <<EOC
NFS_CORE_PARAM { NFS_Port = $NFS_PORT; MNT_Port = $NFS_MNTPORT; NLM_Port = $(free_port); Rquota_Port = $(free_port);
  Bind_Addr = 127.0.0.1; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; Lease_Lifetime = 10; Minor_Versions = 0, 1, 2; RecoveryBackend = fs; RecoveryRoot = "$NFS_DIR/recovery"; }
EXPORT { Export_Id = 1; Path = "$NFS_DIR/export"; Pseudo = "$NFS_DIR/export"; Protocols = 3, 4; Transports = TCP;
  Access_Type = RW; Squash = No_Root_Squash; SecType = sys; Attr_Expiration_Time = 0; FSAL { Name = VFS; } }
MDCACHE { Dir_Chunk = 0; }
EOC
  ganesha.nfsd -F -f "$NFS_DIR/ganesha.conf" -L "$RES/logs/ganesha.log" -p "$NFS_DIR/ganesha.pid" -N NIV_EVENT & NFS_PID=$!
  for i in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$NFS_PORT") 2>/dev/null && break; sleep 0.1; done
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$NFS_PORT") 2>/dev/null; then
    log "skip the NFS jobs: ganesha.nfsd did not listen (logs/ganesha.log)"; nfs_stop; NFS_PORT=''; return 1
  fi
  log "NFS-Ganesha on 127.0.0.1:$NFS_PORT exporting $NFS_DIR/export"
}
nfs_stop() {
  [ -z "$NFS_PID" ] || { kill "$NFS_PID" 2>/dev/null; wait "$NFS_PID" 2>/dev/null; NFS_PID=''; }
  [ -z "$RPCBIND_PID" ] || { kill "$RPCBIND_PID" 2>/dev/null; wait "$RPCBIND_PID" 2>/dev/null; RPCBIND_PID=''; }
  rm -rf "${NFS_DIR:?}"
}
nfs_pools() {  # state-dir: userspace netfs pools nfs3, nfs41 and nfs3nc4 (NFSv3, nconnect = 4) on the server, started with the daemon
  local v id=2
  for v in 3 4.1 3nc4; do
    printf 'uuid = "00000000-0000-0000-0000-00000000000%s"\nautostart = true\n[pool]\ntype = "netfs"\nsource = "127.0.0.1:%s"\nclient = "userspace"\nversion = "%s"\nport = %s\nmount_port = %s\n' \
      "$id" "$NFS_DIR/export" "${v%nc4}" "$NFS_PORT" "$NFS_MNTPORT" >"$1/defs/nfs${v/./}.toml"
    if [ "$v" = 3nc4 ]; then echo 'nconnect = 4' >>"$1/defs/nfs${v/./}.toml"; fi
    id=$((id + 1))
  done
}
nfs_scale_phase() {  # rep: the scale job's listing and deletes on the userspace NFS pools, against the export directory
  local rep=$1 n=$NFS_SCALE_N t d out v
  [ -n "$NFS_TARGET" ] || return 0
  for t in native poolfs-v3 poolfs-v4.1; do
    case $t in
      native) d=$NFS_DIR/export/scale ;;
      poolfs-v3) d=${MNT[$NFS_TARGET]}/nfs3/scale ;;
      poolfs-v4.1) d=${MNT[$NFS_TARGET]}/nfs41/scale ;;
    esac
    out=$RES/logs/nfs-scale-r$rep-$t.txt
    log "  NFS scale, $n files: $t"
    rm -rf "$NFS_DIR/export/scale"; mkdir -p "$NFS_DIR/export/scale"
    make_volumes "$NFS_DIR/export/scale" "$n"
    sync; sleep 1.2
    if list_and_delete "$d" "$n" >"$out" 2>&1; then
      v=$(awk -F'\t' '$1 == "ls" { print $2 }' "$out"); record "$rep" "$t" "NFS: ls -l, $n files (s)" "$v"
      v=$(awk -F'\t' '$1 == "deletes" { print $2 }' "$out"); record "$rep" "$t" "NFS: 10 deletes, $n files (s)" "$v"
    else failed "$rep" "$t" "NFS: ls -l, $n files (s)" "$(tail -1 "$out")"; fi
  done
  rm -rf "$NFS_DIR/export/scale"
}
nfs_qd16() {  # rep way image [prefix]: 4 KiB requests at queue depth 16, cache=none, strided over the image (qemu-img bench, the same tool each way)
  local rep=$1 way=$2 img=$3 n=$NFS_QD16_N w label out secs
  for w in read write; do
    label="${4:-NFS}: 4k QD16 $w, cache=none (IOPS)"
    if out=$(timeout 300 qemu-img bench -f raw -t none -d 16 -s 4096 -S 1052672 -c "$n" $([ $w = write ] && echo -w) "$img" 2>&1) &&
       secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out") && [ -n "$secs" ]; then
      record "$rep" "$way" "$label" "$(python3 -c "print(round($n / $secs))")"
    else failed "$rep" "$way" "$label" "$(tail -1 <<<"$out")"; fi
  done
}
nfs_phase() {  # rep: qemu-img convert of NFS_SIZE onto and off the export, four ways (medians in the table)
  local rep=$1 p=$NFS_TARGET src=$BACKING/nfs-src.img out=/dev/shm/poolfs-bench-nfs.img way dst name t0 t1 err m
  [ -n "$NFS_PORT" ] && [ -n "$p" ] || return 0
  [ -e "$src" ] || head -c "$((NFS_SIZE_MB << 20))" /dev/urandom >"$src"
  for way in "native:$NFS_DIR/export" "poolfs-v3:${MNT[$p]}/nfs3" "poolfs-v3-nc4:${MNT[$p]}/nfs3nc4" \
             "poolfs-v4.1:${MNT[$p]}/nfs41" "libnfs-v3:nfs://127.0.0.1$NFS_DIR/export"; do
    dst=${way#*:} way=${way%%:*}
    name=w-r$rep-${way/./}.img dst=$dst/$name
    m="NFS: qemu-img convert ${NFS_SIZE_MB} MiB onto the export (s)"
    log "  NFS, $way: write ${NFS_SIZE_MB} MiB, read it back"
    sync
    t0=$EPOCHREALTIME
    if err=$(qemu-img convert -f raw -O raw "$src" "$dst" 2>&1); then
      record "$rep" "$way" "$m" "$(python3 -c "print(round($EPOCHREALTIME - $t0, 2))")"
      if cmp -s "$src" "$NFS_DIR/export/$name"; then
        m="NFS: qemu-img convert ${NFS_SIZE_MB} MiB off the export (s)"
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
        t0=$EPOCHREALTIME
        # the copy is timed alone; cmp after it (its reads are not the copy's)
        if err=$(qemu-img convert -f raw -O raw "$dst" "$out" 2>&1) && t1=$EPOCHREALTIME && cmp -s "$src" "$out"; then
          record "$rep" "$way" "$m" "$(python3 -c "print(round($t1 - $t0, 2))")"
        else failed "$rep" "$way" "$m" "${err:-the copy read back differs}"; fi
      else failed "$rep" "$way" "NFS: qemu-img convert ${NFS_SIZE_MB} MiB off the export (s)" "the export's copy differs"; fi
    else
      failed "$rep" "$way" "$m" "$err"
      failed "$rep" "$way" "NFS: qemu-img convert ${NFS_SIZE_MB} MiB off the export (s)" "nothing written"
    fi
    rm -f "$out"
    # last: its writes change the copy
    [ ! -e "$NFS_DIR/export/$name" ] || nfs_qd16 "$rep" "$way" "$dst"
    case $way in poolfs*) rm -f "$dst" ;; *) rm -f "$NFS_DIR/export/$name" ;; esac
  done
}

# ---------- RBD: poolfs's rbd pool against qemu's own rbd driver, one throw-away Ceph cluster ----------
RBD_DIR='' RBD_TARGET=''
rbd_setup() {  # once, before the targets mount: the cluster, with a Ceph pool "rbd"
  local t
  for t in ceph-mon rbd qemu-img; do
    command -v "$t" >/dev/null || { log "skip the RBD jobs: $t is not installed"; return 1; }
  done
  if ! find /usr/lib/*/qemu -name 'block-rbd.so' 2>/dev/null | grep -q .; then
    log "skip the RBD jobs: qemu's rbd driver is not installed (qemu-block-extra)"; return 1
  fi
  rm -rf "${SCRATCH:?}/ceph"
  if ! "$ROOT/scripts/ceph-cluster.sh" start "$SCRATCH/ceph" rbd >"$RES/logs/ceph-cluster.log" 2>&1; then
    log "skip the RBD jobs: the Ceph cluster did not start (logs/ceph-cluster.log)"; rbd_stop; return 1
  fi
  RBD_DIR=$SCRATCH/ceph
  log "Ceph cluster on $(sed -n 's/^mon_host = //p' "$RBD_DIR/ceph.conf")"
}
rbd_stop() {
  [ -n "${RBD_DIR:-}" ] || return 0
  "$ROOT/scripts/ceph-cluster.sh" stop "$RBD_DIR" >/dev/null 2>&1 || true
  RBD_DIR=''
}
rbd_pool() {  # state-dir: the rbd pool "ceph" on the cluster, started with the daemon
  printf 'uuid = "00000000-0000-0000-0000-000000000009"\nautostart = true\n[pool]\ntype = "rbd"\nsource = "%s"\npool = "rbd"\nkeyring = "%s"\n' \
    "$(sed -n 's/^mon_host = //p' "$RBD_DIR/ceph.conf")" "$RBD_DIR/keyring" >"$1/defs/ceph.toml"
}
rbd_phase() {  # rep: qemu-img convert of RBD_SIZE onto and off the cluster, through poolfs and through qemu's rbd driver
  local rep=$1 p=$RBD_TARGET src=$BACKING/rbd-src.img out=/dev/shm/poolfs-bench-rbd.img way ways dst name t0 t1 err m q
  [ -n "$RBD_DIR" ] && [ -n "$p" ] || return 0
  [ -e "$src" ] || head -c "$((RBD_SIZE_MB << 20))" /dev/urandom >"$src"
  q=":conf=$RBD_DIR/ceph.conf:keyring=$RBD_DIR/keyring"
  # The order alternates by repetition: a copy right after the other way's
  # runs on an OSD warmed (or still busy) by it.
  ways="poolfs-rbd qemu-rbd"; [ $((rep % 2)) = 1 ] || ways="qemu-rbd poolfs-rbd"
  for way in $ways; do
    name=w-r$rep-$way.img
    case $way in poolfs-rbd) dst=${MNT[$p]}/ceph/$name ;; *) dst=rbd:rbd/$name$q ;; esac
    m="RBD: qemu-img convert ${RBD_SIZE_MB} MiB onto the cluster (s)"
    log "  RBD, $way: write ${RBD_SIZE_MB} MiB, read it back"
    t0=$EPOCHREALTIME
    if err=$(qemu-img convert -f raw -O raw "$src" "$dst" 2>&1); then
      record "$rep" "$way" "$m" "$(python3 -c "print(round($EPOCHREALTIME - $t0, 2))")"
      m="RBD: qemu-img convert ${RBD_SIZE_MB} MiB off the cluster (s)"
      t0=$EPOCHREALTIME
      if err=$(qemu-img convert -f raw -O raw "$dst" "$out" 2>&1) && t1=$EPOCHREALTIME && cmp -s "$src" "$out"; then
        record "$rep" "$way" "$m" "$(python3 -c "print(round($t1 - $t0, 2))")"
      else failed "$rep" "$way" "$m" "${err:-the copy read back differs}"; fi
      nfs_qd16 "$rep" "$way" "$dst" RBD
    else
      failed "$rep" "$way" "$m" "$err"
    fi
    rm -f "$out"
    rbd -c "$RBD_DIR/ceph.conf" rm "rbd/$name" >/dev/null 2>&1 || true
  done
}
rbd_guest_phase() {  # rep: the fio guest with its disk an RBD image: through poolfs (aio=native) against qemu's rbd driver
  local rep=$1 p=$RBD_TARGET name=guest-rbd.img way disk aio out
  [ -n "$RBD_DIR" ] && [ -n "$p" ] && [ -n "$GUEST_ACCEL" ] || return 0
  qemu-img convert -f raw -O raw -S 0 <(head -c "$((GUEST_DISK_MB << 20))" /dev/zero) \
    "rbd:rbd/$name:conf=$RBD_DIR/ceph.conf:keyring=$RBD_DIR/keyring" 2>/dev/null ||
    dd if=/dev/zero of="${MNT[$p]}/ceph/$name" bs=1M count="$GUEST_DISK_MB" oflag=direct status=none
  for way in poolfs-rbd qemu-rbd; do
    case $way in
      poolfs-rbd) disk=${MNT[$p]}/ceph/$name aio=native ;;
      *) disk=rbd:rbd/$name:conf=$RBD_DIR/ceph.conf:keyring=$RBD_DIR/keyring aio='' ;;
    esac
    out=$RES/logs/rbd-guest-r$rep-$way.txt
    log "  RBD, $way: guest (${GUEST_ACCEL^^}), disk an RBD image, cache=none, 4 fio jobs of ${RUNTIME} s"
    timeout $((120 + 8 * RUNTIME)) bash -c "$(declare -f guest_qemu); GUEST_KERNEL=$GUEST_KERNEL GUEST_INITRD=$GUEST_INITRD guest_qemu $GUEST_ACCEL '$disk' '$aio' poolfs.fio=$RUNTIME" >"$out" 2>&1 || true
    guest_rows "$rep" "$way" "$out" "RBD guest ${GUEST_ACCEL^^}" ""
  done
  rbd -c "$RBD_DIR/ceph.conf" rm "rbd/$name" >/dev/null 2>&1 || true
}

# ---------- guest: fio inside a qemu guest whose only disk is an image on the target ----------
GUEST_ACCEL='' GUEST_KERNEL='' GUEST_INITRD=''
guest_qemu() {  # accel image aio append-args... -> runs the guest to its end
  local accel=$1 img=$2 aio=$3; shift 3
  qemu-system-x86_64 -machine "q35,accel=$accel" -m 1024 -nographic -no-reboot -nic none \
    -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "console=ttyS0 panic=-1 loglevel=3 $*" \
    -drive "file=$img,format=raw,if=virtio,cache=none${aio:+,aio=$aio}" </dev/null
}
guest_setup() {  # once: the fio guest image, and KVM if it boots the guest here, else TCG
  local probe=$BACKING/guest-probe.img
  command -v qemu-system-x86_64 >/dev/null || { log "skip the guest jobs: qemu-system-x86_64 is not installed"; return 1; }
  local env
  env=$(POOLFS_GUEST_FIO=1 "$ROOT/scripts/guest-image.sh" 2>"$RES/logs/guest-image.log") ||
    { log "skip the guest jobs: scripts/guest-image.sh failed (see logs/guest-image.log)"; return 1; }
  GUEST_KERNEL=$(sed -n 's/^POOLFS_GUEST_KERNEL=//p' <<<"$env")
  GUEST_INITRD=$(sed -n 's/^POOLFS_GUEST_INITRD=//p' <<<"$env")
  GUEST_ACCEL=tcg
  truncate -s 64M "$probe"
  if [ -w /dev/kvm ] && timeout 30 bash -c "$(declare -f guest_qemu); GUEST_KERNEL=$GUEST_KERNEL GUEST_INITRD=$GUEST_INITRD guest_qemu kvm $probe native" \
       2>&1 | grep -q 'GUEST: poweroff'; then
    GUEST_ACCEL=kvm
  fi
  rm -f "$probe"
  log "guest jobs under ${GUEST_ACCEL^^} (KVM $([ $GUEST_ACCEL = kvm ] && echo boots || echo 'does not boot') the guest here)"
}
guest_phase() {  # rep target
  local rep=$1 p=$2 img=${WORK[$2]}/guest.img bimg=${BWORK[$2]}/guest.img aio out job line f v m acc field unit
  case ${p%-before} in native|poolfs|poolfs-pt|poolfs-daemon|poolfs-auto) ;; *) return 0 ;; esac
  [ -n "$GUEST_ACCEL" ] || return 0
  acc=${GUEST_ACCEL^^}
  # real data, written on the backing filesystem (not measured): reads of holes cost nothing
  dd if=/dev/zero of="$bimg" bs=1M count="$GUEST_DISK_MB" oflag=direct status=none
  for aio in $GUEST_AIOS; do
    out=$RES/logs/guest-r$rep-$p-$aio.txt
    log "  $p: guest ($acc), disk cache=none aio=$aio, 4 fio jobs of ${RUNTIME} s"
    timeout $((120 + 8 * RUNTIME)) bash -c "$(declare -f guest_qemu); GUEST_KERNEL=$GUEST_KERNEL GUEST_INITRD=$GUEST_INITRD guest_qemu $GUEST_ACCEL '$img' $aio poolfs.fio=$RUNTIME" >"$out" 2>&1 || true
    guest_rows "$rep" "$p" "$out" "guest $acc" ", aio=$aio"
  done
  rm -f "$bimg"
}
guest_rows() {  # rep target out prefix suffix: the four fio results of a guest's output
  local rep=$1 p=$2 out=$3 job f m field unit line v
  # fio --minimal fields: 5 error, 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
  for job in "randread:4k rand read QD32:8:IOPS" "randwrite:4k rand write QD32:49:IOPS" \
             "read:1M seq read QD8:7:MiB/s" "write:1M seq write QD8:48:MiB/s"; do
    IFS=: read -r f m field unit <<<"$job"
    m="$4: $m$5 ($unit)"
    line=$(grep -a "GUEST: fio $f " "$out" | tail -1 | sed "s/.*GUEST: fio $f //" | tr -d '\r') || true
    if v=$(awk -F';' -v k="$field" -v u="$unit" \
           'NF > 50 && $5 == 0 && $k > 0 { x = $k; if (u == "MiB/s") x /= 1024; printf "%.1f", x; ok = 1 } END { exit !ok }' <<<"$line"); then
      record "$rep" "$p" "$m" "$v"
    else
      failed "$rep" "$p" "$m" "no fio result from the guest (see logs/$(basename "$out"))"
    fi
  done
}
nfs_guest_phase() {  # rep: the fio guest with its disk on the export: poolfs NFS pools (aio=native) against qemu's libnfs
  local rep=$1 p=$NFS_TARGET img=$NFS_DIR/export/guest-nfs.img way disk aio out
  [ -n "$NFS_PORT" ] && [ -n "$p" ] && [ -n "$GUEST_ACCEL" ] || return 0
  dd if=/dev/zero of="$img" bs=1M count="$GUEST_DISK_MB" oflag=direct status=none
  for way in poolfs-v3 poolfs-v4.1 libnfs-v3; do
    case $way in
      poolfs-v3) disk=${MNT[$p]}/nfs3/guest-nfs.img aio=native ;;
      poolfs-v4.1) disk=${MNT[$p]}/nfs41/guest-nfs.img aio=native ;;
      *) disk=nfs://127.0.0.1$img aio='' ;;
    esac
    out=$RES/logs/nfs-guest-r$rep-${way/./}.txt
    log "  NFS, $way: guest (${GUEST_ACCEL^^}), disk on the export, cache=none, 4 fio jobs of ${RUNTIME} s"
    timeout $((120 + 8 * RUNTIME)) bash -c "$(declare -f guest_qemu); GUEST_KERNEL=$GUEST_KERNEL GUEST_INITRD=$GUEST_INITRD guest_qemu $GUEST_ACCEL '$disk' '$aio' poolfs.fio=$RUNTIME" >"$out" 2>&1 || true
    guest_rows "$rep" "$way" "$out" "NFS guest ${GUEST_ACCEL^^}" ""
  done
  rm -f "$img"
}

# ---------- machine facts and the table ----------
facts() {
  local cpu mem dev
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  dev=$(findmnt -no SOURCE -T "$BACKING" | head -1)
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- kernel: $(uname -r) ($(uname -m))"
  echo "- CPU: ${cpu:-unknown}, $(nproc) cores; memory: $mem"
  echo "- backing directory: $BACKING on $FSTYPE ($dev)"
  echo "- poolfs: $("$POOLFS" --version 2>/dev/null || echo '?'), $POOLFS_SRC built $(date -u -r "$POOLFS" '+%Y-%m-%d %H:%M UTC'); --io supported: $([ $HAVE_IO = 1 ] && echo yes || echo no)"
  echo "- tools: $(fio --version), $(bindfs --version 2>/dev/null | head -1 || echo 'no bindfs'), $(mergerfs -V 2>/dev/null | head -1 | sed 's/ version:/ /' || echo 'no mergerfs'), $(cp --version | head -1)"
  echo "- parameters: $REPEATS repetition(s), ${RUNTIME} s per time-based job, fio file $SIZE, $META_N metadata files, clone of $CLONE_SIZE holding $CLONE_DATA, $VOLS volumes$([ "$SMOKE" = 1 ] && echo ' (--smoke)')"
}
table() {  # raw fails targets
  python3 - "$@" <<'EOF'
import sys, statistics, collections
raw, fails, targets = sys.argv[1], sys.argv[2], sys.argv[3].split()
vals = collections.OrderedDict()
for line in open(raw):
    rep, p, m, v = line.rstrip("\n").split("\t")
    vals.setdefault(m, {}).setdefault(p, []).append(v)
def num(x):
    try: return float(x)
    except ValueError: return None
def fmt(v):
    return "%.0fk" % (v / 1e3) if v >= 1e5 else "%.1fk" % (v / 1e3) if v >= 1e4 else \
           "%.0f" % v if v >= 100 else "%.3g" % v
def stats(xs):
    n = [num(x) for x in xs if num(x) is not None]
    return (statistics.median(n) if n else None), n, len(xs) - len(n)
nrep = max(len(x) for d in vals.values() for x in d.values())
print("Median of %d repetition(s). Peer cells: value (ratio to native); ratio > 1 = better than native"
      " (throughput: peer/native; times and latencies: native/peer)." % nrep)
print()
print("| metric | " + " | ".join(targets) + " |")
print("|---|" + "---:|" * len(targets))
spread = []
for m, d in vals.items():
    base = stats(d.get("native", []))[0]
    time_metric = m.endswith("(s)") or m.endswith("(µs)")
    info = m.endswith("(MiB)") or m.endswith("(slope)")
    row, srow = [m], [m]
    for p in targets:
        med, n, nfail = stats(d.get(p, []))
        if p not in d: cell = "–"
        elif med is None: cell = "fail"
        else:
            cell = fmt(med)
            if p != "native" and not info and base and med:
                cell += " (%.2f)" % (base / med if time_metric else med / base)
            if nfail: cell += " [%d/%d fail]" % (nfail, nfail + len(n))
        row.append(cell)
        srow.append("%.0f%%" % ((max(n) - min(n)) / med * 100) if med and len(n) > 1 else "–")
    print("| " + " | ".join(row) + " |")
    spread.append("| " + " | ".join(srow) + " |")
if nrep > 1:
    print("\nSpread of the repetitions, (max - min) / median:\n")
    print("| metric | " + " | ".join(targets) + " |")
    print("|---|" + "---:|" * len(targets))
    print("\n".join(spread))
seen = collections.OrderedDict()
for line in open(fails):
    rep, p, m, msg = line.rstrip("\n").split("\t", 3)
    seen.setdefault((p, m, msg), None)
if seen:
    print("\nFailures (details in logs/ and fio/):\n")
    for p, m, msg in seen: print("- %s, %s: %s" % (p, m, msg))
EOF
}

# ---------- main ----------
! job nfs || nfs_setup || true
! job rbd || rbd_setup || true
ACTIVE=()
for p in $TARGETS; do
  if start_target "$p"; then ACTIVE+=("$p")
  else case $p in poolfs*) MOUNT_FAILED=1 ;; esac; fi
done
TARGETS="${ACTIVE[*]}"
log "running on: $TARGETS"
! job guest || guest_setup || true
! job scale || libvirt_setup || true
for p in $TARGETS; do                    # the NFS jobs run through the first poolfs target
  case $p in poolfs*)
    if [ -n "$NFS_PORT" ] && [ "$(cat "${MNT[$p]}/nfs3/status" 2>/dev/null)" = running ] &&
       [ "$(cat "${MNT[$p]}/nfs41/status" 2>/dev/null)" = running ]; then NFS_TARGET=$p; break; fi ;;
  esac
done
for p in $TARGETS; do                    # so do the RBD jobs
  case $p in poolfs*)
    if [ -n "$RBD_DIR" ] && [ "$(cat "${MNT[$p]}/ceph/status" 2>/dev/null)" = running ]; then RBD_TARGET=$p; break; fi ;;
  esac
done
[ -z "$RBD_DIR" ] || [ -n "$RBD_TARGET" ] || log "the RBD jobs do not run: no poolfs target started its rbd pool"
T0=$SECONDS
for rep in $(seq "$REPEATS"); do
  for p in $TARGETS; do
    log "rep $rep/$REPEATS: $p"
    ! job rss || rss_phase "$rep" "$p"        # first: in repetition 1 the daemon has served no I/O yet
    ! job perf || perf_phase "$rep" "$p"
    ! job meta || meta_phase "$rep" "$p"
    ! job clone || clone_phase "$rep" "$p"
    ! job guest || guest_phase "$rep" "$p"
    ! job scale || scale_phase "$rep" "$p"
  done
  ! job nfs || nfs_phase "$rep"
  ! job nfs || ! job guest || nfs_guest_phase "$rep"
  ! job nfs || ! job scale || nfs_scale_phase "$rep"
  ! job rbd || rbd_phase "$rep"
  ! job rbd || ! job guest || rbd_guest_phase "$rep"
  ! job scale || libvirt_scale_phase "$rep"
done
COLUMNS=$TARGETS
[ -z "$NFS_TARGET" ] || COLUMNS="$TARGETS poolfs-v3 poolfs-v3-nc4 poolfs-v4.1 libnfs-v3"
[ -z "$RBD_TARGET" ] || COLUMNS="$COLUMNS poolfs-rbd qemu-rbd"
[ -z "$LIBVIRT_OK" ] || ! job scale || COLUMNS="$COLUMNS libvirt"
log "jobs done in $(( SECONDS - T0 )) s"
{
  echo "# poolfs benchmark"
  echo
  facts
  echo
  table "$RAW" "$FAILS" "$COLUMNS"
} >"$RES/summary.md"
echo
cat "$RES/summary.md"
rc=0
if [ $MOUNT_FAILED = 1 ]; then log "ERROR: a poolfs variant did not mount"; rc=1; fi
if awk -F'\t' '$2 == "native" { bad = 1 } END { exit !bad }' "$FAILS"; then log "ERROR: a job failed on native (the script is broken)"; rc=1; fi
exit "$rc"
