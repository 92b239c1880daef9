#!/usr/bin/env bash
# The whole poolfs story in about a minute, for a new user to watch (as root,
# with /dev/fuse, qemu-system-x86 and qemu-utils installed):
#   start poolfs on a scratch mountpoint, define and start a pool, create a
#   volume, boot a tiny Linux guest from it (qemu, TCG, cache=none,
#   aio=native), show what the guest wrote and discarded, resize the volume
#   and boot again to see the new size, clone it, try to stop the pool while a
#   qemu holds a volume (refused), stop it, and show that the data stayed.
# Everything lives under one temporary directory that is removed at the end,
# even on Ctrl-C. The guest (a Debian kernel and a busybox initramfs) comes
# from scripts/guest-image.sh, cached under /var/tmp/poolfs-guest.
#
# usage: scripts/demo.sh            (POOLFS_BIN=path picks the binary;
#                                    default target/release/poolfs, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) -eq 0 ]] || { echo "demo.sh: run as root (it mounts a FUSE filesystem)" >&2; exit 1; }
[[ -c /dev/fuse ]] || { echo "demo.sh: /dev/fuse is missing (modprobe fuse)" >&2; exit 1; }
for t in qemu-system-x86_64 qemu-img; do
    command -v "$t" >/dev/null || { echo "demo.sh: $t is missing (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
done

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[[ -t 1 ]] || bold='' dim='' off=''
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
# show CMD...: prints the command, then runs it.
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }

bin=${POOLFS_BIN:-target/release/poolfs}
if [[ ! -x "$bin" ]]; then
    say "building poolfs (cargo build --release)"
    cargo build --release --locked
fi
bin=$(realpath "$bin")
poolfs() { "$bin" "$@"; }

say "building or finding the guest (scripts/guest-image.sh)"
eval "$(scripts/guest-image.sh)"
echo "kernel: $POOLFS_GUEST_KERNEL"
echo "initrd: $POOLFS_GUEST_INITRD"

work=$(mktemp -d /var/tmp/poolfs-demo.XXXXXX)
mnt=$work/pools
state=$work/state
qemu_pid=
cleanup() {
    set +e
    [[ -n "$qemu_pid" ]] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    if mountpoint -q "$mnt" 2>/dev/null || grep -q " $mnt fuse" /proc/mounts; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
        for _ in $(seq 50); do pgrep -f "poolfs mount $mnt " >/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
    echo "demo.sh: cleaned up $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export POOLFS_MOUNT=$mnt

# boot IMG FORMAT APPEND: the guest on one disk; prints its lines and the time.
boot() {
    local img=$1 fmt=$2 append=$3 t0 t1 rc=0
    printf '%s$ qemu-system-x86_64 -machine q35,accel=tcg -m 256 -nographic -no-reboot -kernel vmlinuz -initrd initrd \\\n    -drive file=%s,format=%s,if=virtio,cache=none,aio=native,discard=unmap%s\n' \
        "$dim" "$img" "$fmt" "$off"
    t0=$(date +%s.%N)
    timeout 120 qemu-system-x86_64 -machine q35,accel=tcg -m 256 -nographic -no-reboot -nic none \
        -kernel "$POOLFS_GUEST_KERNEL" -initrd "$POOLFS_GUEST_INITRD" \
        -append "console=ttyS0 panic=-1 loglevel=3 $append" \
        -drive "file=$img,format=$fmt,if=virtio,cache=none,aio=native,discard=unmap" \
        </dev/null >"$work/console.log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    grep -a -o 'GUEST: .*' "$work/console.log" | tr -d '\r' | sed 's/^/    /'
    if [[ $rc -ne 0 ]]; then
        echo "demo.sh: qemu failed (exit $rc); console:" >&2
        cat "$work/console.log" >&2
        exit 1
    fi
    printf '    (boot to power-off: %.1f s)\n' "$(echo "$t1 - $t0" | bc)"
}

say "1. start poolfs: the pool tree appears at $mnt"
show poolfs mount "$mnt" --state-dir "$state"
show ls -l "$mnt"
echo "(with no pool defined yet poolfs defines an autostart dir pool 'default')"

say "2. define, build and start a pool 'demo' stored in $work/demo-data"
show poolfs pool-define-as demo dir --target "$work/demo-data"
echo "(that is: mkdir $mnt/demo, then write its config)"
show cat "$mnt/demo/config"
show poolfs pool-build demo
show poolfs pool-start demo
show cat "$mnt/demo/status"

say "3. create a 256 MiB sparse volume, write a greeting at 0 and 16 MiB of data at 32 MiB"
show poolfs vol-create-as demo vm1.img 256M
seed=HELLO-FROM-THE-HOST
printf '%s$ printf %s | dd of=%s conv=notrunc%s\n' "$dim" "$seed" "$mnt/demo/vm1.img" "$off"
printf '%s' "$seed" | dd of="$mnt/demo/vm1.img" conv=notrunc status=none
show dd if=/dev/urandom of="$mnt/demo/vm1.img" bs=1M seek=32 count=16 conv=notrunc status=none
show ls -ls "$mnt/demo"

say "4. boot a guest whose only disk is $mnt/demo/vm1.img"
echo "It checks the greeting, writes 8 MiB at 64 MiB with O_DIRECT, discards 16 MiB at 32 MiB, powers off."
boot "$mnt/demo/vm1.img" raw "poolfs.seed=$seed poolfs.pattern=64:8 poolfs.discard=32:16"
show poolfs vol-info vm1.img --pool demo
echo "The guest's data is in the backing file, a plain sparse file:"
show ls -ls "$work/demo-data/vm1.img"
echo "(16 MiB written by the host, 16 MiB discarded by the guest, 8 MiB written by the guest)"
show dd if="$work/demo-data/vm1.img" iflag=skip_bytes skip=$((64 * 1048576)) bs=$((2 * (${#seed} + 9))) count=1 status=none

say "5. resize the volume to 512 MiB (a control-file write) and boot again"
show poolfs vol-resize vm1.img 512M --pool demo
echo "(that is: echo 512M > $mnt/demo/.vol/vm1.img/resize)"
boot "$mnt/demo/vm1.img" raw "poolfs.seed=$seed"

say "6. clone it: a sparse copy done next to the data"
show poolfs vol-clone vm1.img vm2.img --pool demo
show ls -ls "$mnt/demo"
show cmp "$mnt/demo/vm1.img" "$mnt/demo/vm2.img"
echo "identical, and the clone allocates only the data"

say "7. stop the pool: refused while a qemu holds a volume, then done"
qemu-system-x86_64 -S -machine q35,accel=tcg -m 64 -display none -nic none \
    -drive "file=$mnt/demo/vm2.img,format=raw,if=virtio,cache=none" </dev/null >/dev/null 2>&1 &
qemu_pid=$!
opened() {
    local fd
    for fd in /proc/"$qemu_pid"/fd/*; do
        [[ "$(readlink "$fd" 2>/dev/null)" == "$mnt/demo/vm2.img" ]] && return 0
    done
    return 1
}
for _ in $(seq 100); do opened && break; sleep 0.1; done
echo "(a paused qemu, pid $qemu_pid, has vm2.img open)"
if show poolfs pool-stop demo; then
    echo "demo.sh: the stop was not refused" >&2
    exit 1
fi
show grep last_error "$mnt/demo/info"
kill "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=
show poolfs pool-stop demo
show ls -l "$mnt/demo"
echo "The volumes are gone from the tree; the data stays where it was:"
show ls -ls "$work/demo-data"
show poolfs pool-list --all

say "what happened"
cat <<EOF
- poolfs showed pools as directories under $mnt; 'demo' was defined with
  mkdir + config, built and started with writes to its status file.
- vm1.img was created sparse; the guest booted from it with
  cache=none,aio=native. Its O_DIRECT writes and its discard reached the
  backing file ($work/demo-data/vm1.img): the host's 16 MiB
  became a hole again, the guest's 8 MiB are there.
- A resize by control file grew the disk; the second boot saw 512 MiB.
- vol-clone copied only the data extents; the clone is byte-identical.
- Stopping the pool was refused while qemu had a volume open, then worked;
  the data stayed in $work/demo-data. The guest's path,
  $mnt/demo/vm1.img, never depended on where the data lives.
EOF
say "cleaning up (unmount, remove $work)"
