#!/usr/bin/env bash
# Installs poolfs on this host, as root:
#   PREFIX/bin/poolfs                                 the release binary
#   /etc/systemd/system/poolfs.service                the systemd unit (packaging/)
#   /sbin/mount.fuse.poolfs                           the mount(8) helper (fstab, mount -t)
#   PREFIX/share/man/man1/poolfs.1                    `poolfs man`
#   PREFIX/share/bash-completion/completions/poolfs   `poolfs completions bash`
# PREFIX is /usr/local unless --prefix says otherwise. Idempotent: unchanged
# files are left alone, changed ones are replaced atomically (a running
# daemon keeps its old binary until restarted). It does not enable or start
# the service; it prints the commands that do.
#
# usage: scripts/install.sh [--prefix DIR] [--destdir DIR] [--binary PATH]
#   --destdir DIR   install under DIR as if it were / (packaging, tests)
#   --binary PATH   the poolfs binary to install (default target/release/poolfs,
#                   built with `cargo build --release --locked` when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
destdir=
binary=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) destdir=${1#*=}; shift ;;
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --binary=*) binary=${1#*=}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$prefix" == /* ]] || { echo "install.sh: --prefix must be absolute" >&2; exit 2; }
if [[ -n "$destdir" ]]; then
    mkdir -p "$destdir"
    destdir=$(cd "$destdir" && pwd)
elif [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (or give --destdir)" >&2
    exit 1
fi

step() { echo "install.sh: $*"; }

if [[ -z "$binary" ]]; then
    binary=target/release/poolfs
    if [[ ! -x "$binary" ]]; then
        step "cargo build --release --locked"
        cargo build --release --locked
    fi
fi
[[ -x "$binary" ]] || { echo "install.sh: $binary is not an executable" >&2; exit 1; }

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT

# put SRC DEST MODE: copies SRC to DESTDIR/DEST unless identical; the new
# file is renamed into place, so a running binary is never overwritten.
put() {
    local src=$1 dest=$destdir$2 mode=$3
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        step "unchanged $2"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    local tmp
    tmp=$(mktemp "$(dirname "$dest")/.poolfs-install.XXXXXX")
    cat "$src" > "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
    step "installed $2"
}

bin_path=$prefix/bin/poolfs
put "$binary" "$bin_path" 0755

# The unit and the helper name the binary; follow --prefix.
sed "s|/usr/local/bin/poolfs|$bin_path|g" packaging/poolfs.service > "$tmpdir/poolfs.service"
put "$tmpdir/poolfs.service" /etc/systemd/system/poolfs.service 0644
sed "s|/usr/local/bin/poolfs|$bin_path|g" packaging/mount.fuse.poolfs > "$tmpdir/mount.fuse.poolfs"
put "$tmpdir/mount.fuse.poolfs" /sbin/mount.fuse.poolfs 0755

"$binary" man > "$tmpdir/poolfs.1"
put "$tmpdir/poolfs.1" "$prefix/share/man/man1/poolfs.1" 0644
"$binary" completions bash > "$tmpdir/poolfs.bash"
put "$tmpdir/poolfs.bash" "$prefix/share/bash-completion/completions/poolfs" 0644

if [[ -z "$destdir" && -d /run/systemd/system ]]; then
    step "systemctl daemon-reload"
    systemctl daemon-reload
fi
cat <<EOF
install.sh: done. Next steps:
  systemctl enable --now poolfs        # mount /srv/pools at boot, before libvirtd
or, without systemd, an /etc/fstab line:
  poolfs  /srv/pools  fuse.poolfs  defaults,state-dir=/var/lib/poolfs  0 0
or by hand:
  mount -t fuse.poolfs poolfs /srv/pools -o state-dir=/var/lib/poolfs
EOF
