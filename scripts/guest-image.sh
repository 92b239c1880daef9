#!/usr/bin/env bash
# Builds (once) the tiny qemu guest that tests/hypervisor.rs and scripts/demo.sh
# boot, and prints where it is:
#   POOLFS_GUEST_KERNEL=/var/tmp/poolfs-guest/<kernel package>/vmlinuz
#   POOLFS_GUEST_INITRD=/var/tmp/poolfs-guest/<kernel package>/initrd-<hash>.cpio.gz
# (so `eval "$(scripts/guest-image.sh)"` sets both).
#
# Kernel: Debian 12's current kernel package (the one linux-image-amd64
# depends on), fetched with `apt-get download` and unpacked with dpkg-deb;
# /boot on the project machines is empty. Initramfs: busybox-static, the
# virtio modules from the same package and the /init below. Artifacts are
# cached under $POOLFS_GUEST_CACHE (default /var/tmp/poolfs-guest); a second
# run only prints the paths. Needs apt-get, dpkg-deb, cpio, gzip and
# /bin/busybox (busybox-static); as root on a fresh machine it runs
# `apt-get update` first when the package lists are missing.
#
# The guest's /init reads its orders from the kernel command line:
#   poolfs.seed=S            print whether the disk starts with the bytes S
#   poolfs.pattern=OFF:LEN   write LEN MiB at OFF MiB of /dev/vda with O_DIRECT
#                            (lines "pattern S\n" repeated; S = the seed),
#                            read them back with O_DIRECT and print both md5s
#   poolfs.discard=OFF:LEN   blkdiscard LEN MiB at OFF MiB
#   poolfs.fio=SECONDS       (the fio image only) four fio jobs on /dev/vda,
#                            O_DIRECT with libaio: 4 KiB random read and write at
#                            QD32, 1 MiB sequential read and write at QD8, each
#                            SECONDS long; one line "fio JOB <fio --minimal line>"
# then it prints the disk size, syncs and powers off. Every line it prints
# starts with "GUEST: ".
#
# POOLFS_GUEST_FIO=1 builds the benchmark's image instead (scripts/bench.sh):
# the same, plus /usr/bin/fio and the libraries it loads (about 80 MiB, so
# the guest needs 1 GiB of memory), as initrd-fio-<hash>.cpio.gz.
set -euo pipefail

cache=${POOLFS_GUEST_CACHE:-/var/tmp/poolfs-guest}
mkdir -p "$cache"
log() { echo "guest-image: $*" >&2; }

# One builder at a time (tests run in parallel threads).
exec 9>"$cache/.lock"
flock 9

if [[ -n "${POOLFS_GUEST_KERNEL_PKG:-}" ]]; then
    kpkg=$POOLFS_GUEST_KERNEL_PKG
else
    find_kpkg() {
        apt-cache depends linux-image-amd64 2>/dev/null |
            awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
    }
    kpkg=$(find_kpkg || true)
    if [[ -z "$kpkg" ]]; then
        # Offline, or the package lists are missing: reuse a cached kernel
        # if there is one, else refresh the lists.
        kpkg=
        for d in "$cache"/linux-image-*/vmlinuz; do
            if [[ -f "$d" ]]; then kpkg=$(basename "$(dirname "$d")"); fi
        done
        if [[ -z "$kpkg" || ! -f "$cache/$kpkg/vmlinuz" ]]; then
            log "apt-get update (no package lists)"
            apt-get update -qq >&2
            kpkg=$(find_kpkg || true)
        fi
    fi
    [[ -n "$kpkg" ]] || { log "cannot find Debian's kernel package (linux-image-amd64's dependency)"; exit 1; }
fi
dir=$cache/$kpkg
mkdir -p "$dir"

# The kernel and its modules.
if [[ ! -f "$dir/vmlinuz" || ! -d "$dir/modules" ]]; then
    tmp=$(mktemp -d "$dir/.dl.XXXXXX")
    log "apt-get download $kpkg"
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" >&2)
    deb=$(ls "$tmp"/*.deb)
    log "dpkg-deb -x $(basename "$deb")"
    dpkg-deb -x "$deb" "$tmp/x"
    mkdir -p "$tmp/modules"
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
        f=$(find "$tmp/x/lib/modules" -name "$m.ko*" | head -1)
        case "$f" in
            "") log "module $m not in the package (built in?)"; continue ;;
            *.ko.xz) xz -dc "$f" > "$tmp/modules/$m.ko" ;;
            *.ko.zst) zstd -qdc "$f" > "$tmp/modules/$m.ko" ;;
            *.ko.gz) gzip -dc "$f" > "$tmp/modules/$m.ko" ;;
            *) cp "$f" "$tmp/modules/$m.ko" ;;
        esac
    done
    rm -rf "$dir/modules"
    mv "$tmp/modules" "$dir/modules"
    vmlinuz=$(find "$tmp/x/boot" -name 'vmlinuz-*' | head -1)
    [[ -n "$vmlinuz" ]] || { log "no vmlinuz in $kpkg"; exit 1; }
    mv "$vmlinuz" "$dir/vmlinuz.new"
    mv "$dir/vmlinuz.new" "$dir/vmlinuz"
    rm -rf "$tmp"
fi

# The initramfs; its name carries a hash of this script, so editing /init
# below rebuilds it.
hash=$(sha256sum "$0" | cut -c1-12)
variant=
[[ "${POOLFS_GUEST_FIO:-}" == 1 ]] && variant=fio-
initrd=$dir/initrd-$variant$hash.cpio.gz
if [[ ! -f "$initrd" ]]; then
    [[ -x /bin/busybox ]] || { log "/bin/busybox is missing (apt-get install busybox-static)"; exit 1; }
    tmp=$(mktemp -d "$dir/.rd.XXXXXX")
    root=$tmp/root
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
    cp /bin/busybox "$root/bin/busybox"
    for a in $("$root/bin/busybox" --list); do
        [[ "$a" == busybox ]] || ln -s busybox "$root/bin/$a"
    done
    cp "$dir"/modules/*.ko "$root/lib/modules/"
    if [[ -n "$variant" ]]; then
        command -v fio >/dev/null || { log "fio is missing (apt-get install fio)"; exit 1; }
        fio=$(command -v fio)
        for f in "$fio" $(ldd "$fio" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }'); do
            mkdir -p "$root$(dirname "$f")"
            cp -L "$f" "$root$f"
        done
        mkdir -p "$root/usr/bin"
        [[ -e "$root/usr/bin/fio" ]] || ln -s "$fio" "$root/usr/bin/fio"
    fi
    cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
say() { echo "GUEST: $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "$1="*) echo "${w#*=}" ;; esac
    done
}
say "init at $(up) s"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
if [ ! -b /dev/vda ]; then
    say "no /dev/vda"
    poweroff -f
fi
say "disk /dev/vda $(blockdev --getsize64 /dev/vda) bytes"
seed=$(arg poolfs.seed)
if [ -n "$seed" ]; then
    got=$(dd if=/dev/vda bs=${#seed} count=1 2>/dev/null)
    if [ "$got" = "$seed" ]; then say "seed ok $seed"; else say "seed BAD (read '$got')"; fi
fi
pat=$(arg poolfs.pattern)
if [ -n "$pat" ]; then
    off=${pat%%:*} len=${pat##*:}
    yes "pattern $seed" | head -c $((len * 1048576)) > /tmp/pat
    want=$(md5sum < /tmp/pat | cut -d' ' -f1)
    # poolfs.repeat=N: write and read back N times (I/O for as long as the
    # host needs, e.g. while it restarts the storage under the guest).
    rep=$(arg poolfs.repeat)
    n=0
    while [ $n -lt ${rep:-1} ]; do
        t0=$(up)
        if dd if=/tmp/pat of=/dev/vda bs=1M seek=$off count=$len oflag=direct conv=fsync 2>/tmp/dd.err; then
            say "pattern written ${len} MiB at ${off} MiB (O_DIRECT) in $(awk "BEGIN { printf \"%.2f\", $(up) - $t0 }") s"
        else
            say "pattern write FAILED: $(cat /tmp/dd.err)"
        fi
        got=$(dd if=/dev/vda bs=1M skip=$off count=$len iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
        say "pattern md5 $want readback md5 $got"
        n=$((n + 1))
    done
    say "kernel I/O errors: $(dmesg | grep -ci 'i/o error')"
    rm -f /tmp/pat
fi
dis=$(arg poolfs.discard)
if [ -n "$dis" ]; then
    off=${dis%%:*} len=${dis##*:}
    if blkdiscard -o $((off * 1048576)) -l $((len * 1048576)) /dev/vda 2>/tmp/bd.err; then
        say "discard ok ${len} MiB at ${off} MiB"
    else
        say "discard FAILED: $(cat /tmp/bd.err)"
    fi
fi
fio_s=$(arg poolfs.fio)
if [ -n "$fio_s" ]; then
    for job in "randread 4k 32" "randwrite 4k 32" "read 1m 8" "write 1m 8"; do
        set -- $job
        line=$(/usr/bin/fio --name=g --filename=/dev/vda --direct=1 --ioengine=libaio --thread \
            --rw=$1 --bs=$2 --iodepth=$3 --time_based --runtime=$fio_s --norandommap \
            --randrepeat=0 --minimal 2>&1 | tail -1)
        say "fio $1 $line"
    done
fi
sync
say "poweroff at $(up) s"
poweroff -f
INIT
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$tmp/initrd"
    mv "$tmp/initrd" "$initrd"
    rm -rf "$tmp"
    # Initramfs images of older versions of this script.
    find "$dir" -maxdepth 1 -regex ".*/initrd-$variant[0-9a-f]*\.cpio\.gz" ! -name "$(basename "$initrd")" -delete
fi

echo "POOLFS_GUEST_KERNEL=$dir/vmlinuz"
echo "POOLFS_GUEST_INITRD=$initrd"
