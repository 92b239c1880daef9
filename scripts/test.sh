#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# installs what the tests need, then formatting, lints, unit and mounted
# integration tests, and the third-party conformance suites on a real mount.
# Run as root on a machine with /dev/fuse.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "scripts/test.sh: run as root (the tests mount FUSE filesystems)" >&2; exit 1; }

scripts/install-test-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
# Mounted tests fail instead of skipping when they cannot mount or miss a tool.
export POOLFS_REQUIRE_MOUNT=1
cargo build --release
# Both I/O paths pass the whole suite: kernel FUSE passthrough, and the daemon.
for io in passthrough daemon; do
    echo "== cargo test, volume I/O: $io (unit, core and mounted integration tests)"
    # A test that hangs (a deadlock) fails the run in 30 minutes (a round
    # takes about 8) instead of holding CI until its own limit.
    POOLFS_TEST_IO=$io timeout --kill-after=30 1800 cargo test --all-targets \
        || { rc=$?; [[ $rc -eq 124 ]] && echo "test.sh: cargo test ($io) ran over 30 minutes: a test hangs" >&2; exit "$rc"; }
    echo "== conformance, volume I/O: $io: pjdfstest and fsx on a poolfs mount"
    CONFORMANCE_EXTRA_ARGS="--io $io" scripts/conformance.sh target/release/poolfs
done
# The FUSE-over-io_uring transport (--transport uring, docs/io_uring.md),
# with volume I/O in the daemon so that data travels on the ring too: every
# test binary but the three whose subject is surviving a crash or an upgrade
# of the server (survival, shared_pools, nfs_userspace), which the ring
# cannot do (a crash there ends the mount: tests/transport.rs checks that);
# the other tests that crash the server skip that part (survives_crash()).
echo "== cargo test, transport io_uring, volume I/O: daemon (all but the takeover suites)"
uring_tests=()
for t in tests/*.rs; do
    case $(basename "$t" .rs) in survival|shared_pools|nfs_userspace) continue ;; esac
    uring_tests+=(--test "$(basename "$t" .rs)")
done
POOLFS_TEST_IO=daemon POOLFS_TEST_TRANSPORT=uring timeout --kill-after=30 1800 cargo test "${uring_tests[@]}" \
    || { rc=$?; [[ $rc -eq 124 ]] && echo "test.sh: cargo test (io_uring) ran over 30 minutes: a test hangs" >&2; exit "$rc"; }
echo "== conformance, transport io_uring, volume I/O: daemon: pjdfstest and fsx on a poolfs mount"
CONFORMANCE_EXTRA_ARGS="--io daemon --transport uring" scripts/conformance.sh target/release/poolfs
echo "== benchmark smoke run (checks that scripts/bench.sh works; no timing is judged)"
scripts/bench.sh --smoke
echo "test.sh: all suites passed"
