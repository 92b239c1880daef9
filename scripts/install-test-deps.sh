#!/usr/bin/env bash
# Install what poolfs's tests need on a Debian 12 machine, as root.
# Idempotent: a second run only checks and returns quickly.
#   - Debian packages (apt-get update runs only when something is missing)
#   - pjdfstest 0.2.2 and fsx 0.3.2 from crates.io (cargo install --locked)
#   - the user and group "tests" that pjdfstest switches to (nobody exists)
#   - the system user libvirt-qemu that libvirtd resolves at start-up
#   - the qemu guest (a Debian kernel package and a busybox initramfs, cached
#     under /var/tmp/poolfs-guest by scripts/guest-image.sh)
set -euo pipefail

step() { echo "install-test-deps: $*"; }

[[ $(id -u) -eq 0 ]] || { echo "install-test-deps: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

packages=(
    qemu-system-x86 qemu-utils      # VM tests; qemu-img/qemu-nbd
    qemu-block-extra                # qemu's NFS driver (libnfs): the benchmark's NFS rows
    libacl1-dev acl                 # pjdfstest build (exacl) and ACL tools
    attr                            # getfattr/setfattr
    e2fsprogs xfsprogs btrfs-progs  # mkfs for fs pools
    util-linux                      # losetup, mount, fallocate, findmnt, flock, nsenter
    iproute2                        # ip netns: hosts of the shared-pool tests
    fdisk                           # sfdisk: a partition table in the fs pool tests
    fio                             # I/O load
    bindfs mergerfs fuse3           # FUSE comparison mounts, fusermount3
    busybox-static cpio             # initramfs for the qemu guest
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients  # libvirt on poolfs (not -system)
    libxml2-utils                   # xmllint, which virt-xml-validate runs (libvirt's schemas)
    nfs-ganesha nfs-ganesha-vfs     # a real NFS server for the userspace NFS client tests
    rpcbind                         # NFSv3 registration for that server
    strace                          # syscall traces in failing tests
    openssh-server openssh-client   # poolfs --connect ssh://: an sshd on loopback
    prometheus                      # promtool check metrics (the server is not started)
    python3                         # helper scripts (tomllib)
    jq                              # the CLI's JSON as scripts read it
    ceph-mon ceph-mgr ceph-osd ceph-common  # a throw-away Ceph cluster for rbd pools (scripts/ceph-cluster.sh); librbd1
)

installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == "ii " ]]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    step "apt: all ${#packages[@]} packages already installed"
else
    step "apt: missing: ${missing[*]}"
    step "apt-get update"
    apt-get update -qq
    # The machine image may carry a backported qemu-utils (10.x) that Breaks
    # Debian 12's qemu-system-common (7.2): apt then removes qemu-utils to
    # install qemu-system-x86. Install both at the same version instead (a
    # downgrade of qemu-utils where the newer one was preinstalled).
    extra=()
    args=()
    for p in "${missing[@]}"; do
        case "$p" in qemu-system-x86|qemu-utils|qemu-block-extra) ;; *) args+=("$p") ;; esac
    done
    if ! installed qemu-system-x86 || ! installed qemu-utils ||
        [[ "$(dpkg-query -W -f='${Version}' qemu-utils)" != "$(dpkg-query -W -f='${Version}' qemu-system-x86)" ]]; then
        qv=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
        [[ -n "$qv" && "$qv" != "(none)" ]] || { echo "install-test-deps: no qemu-system-x86 candidate" >&2; exit 1; }
        step "apt: qemu-system-x86 and qemu-utils together at version $qv"
        args+=("qemu-system-x86=$qv" "qemu-utils=$qv")
        extra+=(--allow-downgrades)
    fi
    # qemu's block modules load only into the qemu of their own version.
    if ! installed qemu-block-extra ||
        [[ "$(dpkg-query -W -f='${Version}' qemu-block-extra)" != "$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null)" ]]; then
        bv=${qv:-$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)}
        bv=${bv:-$(apt-cache policy qemu-utils | awk '/Candidate:/ {print $2}')}
        args+=("qemu-block-extra=$bv")
    fi
    step "apt-get install ${args[*]}"
    apt-get install -y -qq --no-install-recommends "${extra[@]}" "${args[@]}" >/dev/null
    for p in "${packages[@]}"; do
        installed "$p" || { echo "install-test-deps: $p did not install" >&2; exit 1; }
    done
    step "apt: done ($(qemu-img --version | head -1))"
fi

# Rust tools from crates.io, pinned: the pjdfstest case lists in scripts/
# are for 0.2.2, scripts/fsx.toml for fsx 0.3.2.
if [[ -d "$HOME/.cargo/bin" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
crates=()
for spec in pjdfstest@0.2.2 fsx@0.3.2; do
    name=${spec%@*} version=${spec#*@}
    if command -v "$name" >/dev/null 2>&1 &&
        [[ "$("$name" --version 2>/dev/null | awk '{print $2}')" == "$version" ]]; then
        step "cargo: $name $version already installed ($(command -v "$name"))"
    else
        crates+=("$spec")
    fi
done
if [[ ${#crates[@]} -gt 0 ]]; then
    command -v cargo >/dev/null 2>&1 || { echo "install-test-deps: cargo not found" >&2; exit 1; }
    step "cargo install --locked ${crates[*]} (a few minutes)"
    cargo install --quiet --locked --force "${crates[@]}"
fi

# Dummy users for pjdfstest (see scripts/pjdfstest.toml): nobody:nogroup
# comes with Debian; tests:tests is created here.
getent passwd nobody >/dev/null || { echo "install-test-deps: user nobody is missing" >&2; exit 1; }
if getent group tests >/dev/null; then
    step "group tests exists"
else
    step "groupadd tests"
    groupadd --system tests
fi
if getent passwd tests >/dev/null; then
    if [[ "$(id -gn tests)" != tests ]]; then
        step "usermod: primary group of tests -> tests"
        usermod -g tests tests
    else
        step "user tests exists"
    fi
else
    step "useradd tests"
    useradd --system -g tests -M -d / -s /usr/sbin/nologin -c "Dummy user for pjdfstest" tests
fi

# libvirtd (started by hand in tests/libvirt.rs) resolves its compiled-in
# qemu user before it reads qemu.conf; libvirt-daemon-system would create it
# but pulls in init-system pieces.
if getent passwd libvirt-qemu >/dev/null; then
    step "user libvirt-qemu exists"
else
    step "useradd libvirt-qemu"
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin --user-group libvirt-qemu
fi

# The guest for tests/hypervisor.rs and scripts/demo.sh (cached; the first
# run downloads the kernel package with apt-get download).
step "guest image: $("$(dirname "$0")/guest-image.sh" | tr '\n' ' ')"

if [[ -c /dev/fuse ]]; then
    step "/dev/fuse present"
else
    step "modprobe fuse"
    modprobe fuse || { echo "install-test-deps: /dev/fuse is missing" >&2; exit 1; }
fi
step "done"
