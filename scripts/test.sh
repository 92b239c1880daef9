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
echo "== benchmark smoke run (checks that scripts/bench.sh works; no timing is judged)"
scripts/bench.sh --smoke
echo "test.sh: all suites passed"
