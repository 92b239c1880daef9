#!/usr/bin/env bash
# Third-party conformance suites against a real poolfs mount:
#   pjdfstest in a directory of a running pool (a second pool serves as the
#   "other filesystem" of its EXDEV case), then fsx on a volume file.
#
#   scripts/conformance.sh [POOLFS_BINARY]   (default: target/release/poolfs)
#
# Environment: FSX_OPS (default 100000), CONFORMANCE_EXTRA_ARGS (extra
# arguments for `poolfs mount`, e.g. to force an I/O path).
# The mount is always unmounted and the scratch directory removed, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/poolfs}")
[[ -x "$bin" ]] || { echo "conformance.sh: $bin is not built (cargo build --release)" >&2; exit 2; }

mkdir -p /var/tmp/poolfs-tests
work=$(mktemp -d /var/tmp/poolfs-tests/conformance.XXXXXX)
chmod 755 "$work"
mnt=$work/mnt
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if grep -q " $mnt fuse" /proc/self/mounts; then umount -l "$mnt" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$mnt"
# shellcheck disable=SC2086
"$bin" mount "$mnt" --state-dir "$work/state" --foreground ${CONFORMANCE_EXTRA_ARGS:-} 2>"$work/poolfs.log" &
pid=$!
for _ in $(seq 1 300); do
    [[ -e "$mnt/default/status" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/poolfs.log"; echo "conformance.sh: poolfs exited" >&2; exit 1; }
    sleep 0.05
done
[[ "$(cat "$mnt/default/status")" == running ]] || { echo "conformance.sh: default pool not running" >&2; exit 1; }

# The pool targets live under the (0700) scratch directory's state dir; the
# users pjdfstest switches to must be able to reach the test directories.
chmod 755 "$work/state" "$work/state/pools" "$work/state/pools/default"
mkdir "$mnt/second"
echo build > "$mnt/second/status"
echo start > "$mnt/second/status"
chmod 755 "$work/state/pools/second"
mkdir -m 0755 "$mnt/default/pjdfstest" "$mnt/second/pjdfstest"

status=0
scripts/pjdfstest.sh --secondary "$mnt/second/pjdfstest" "$mnt/default/pjdfstest" || status=1
for profile in full nommap; do
    scripts/fsx.sh --profile "$profile" "$mnt/default/fsx-$profile.img" "${FSX_OPS:-100000}" || status=1
done
# Right after the suites, with nothing open: SIGTERM ends poolfs within a
# second (its log names what keeps it otherwise).
t0=$(date +%s%N)
kill -TERM "$pid"
wait "$pid" || true
pid=""
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "conformance.sh: poolfs exited ${ms} ms after SIGTERM"
if (( ms > 1000 )); then
    echo "conformance.sh: poolfs took longer than 1 s to exit after SIGTERM" >&2
    status=1
fi
if [[ $status -ne 0 ]]; then
    echo "conformance.sh: poolfs log (last 50 lines):"
    tail -50 "$work/poolfs.log"
fi
exit $status
