#!/usr/bin/env bash
# Run the POSIX conformance suite pjdfstest 0.2.2 (crates.io) in DIR, normally
# a directory inside a running pool of a poolfs mount.
#
#   scripts/pjdfstest.sh [--secondary DIR2] DIR [SUBSTRING...]
#
# Runs every case of scripts/pjdfstest-cases.txt except those listed in
# scripts/pjdfstest-excluded.txt (cases that need symlink/link/mkfifo/mknod,
# which poolfs refuses), with scripts/pjdfstest.toml. SUBSTRINGs narrow the
# run to the selected cases whose names contain one of them.
#   --secondary DIR2  a directory on another file system (for poolfs: in
#                     another pool), enabling rename::exdev_target.
# Environment: PJDFSTEST (binary, default: pjdfstest on PATH or ~/.cargo/bin),
#   PJDFSTEST_TIMEOUT (seconds for the whole run, default 1800),
#   PJDFSTEST_LOG (keep pjdfstest's full output in this file),
#   PJDFSTEST_BACKTRACE=1 (print Rust backtraces of failed cases).
# Run as root: cases that need root (chown, switching to the users nobody and
# tests) are skipped otherwise. DIR must be searchable by those users, so a
# FUSE mount needs allow_other.
# Exit status: 0 when no selected case failed. The last line is
#   pjdfstest: N passed, N failed, N skipped, N excluded
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config="$here/pjdfstest.toml"
cases_file="$here/pjdfstest-cases.txt"
excluded_file="$here/pjdfstest-excluded.txt"
want_version="0.2.2"
prefix="pjdfstest::tests::"

die() { echo "pjdfstest.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

secondary=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --secondary) [[ $# -ge 2 ]] || usage; secondary=$2; shift 2 ;;
        --secondary=*) secondary=${1#*=}; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || usage
dir=$1; shift
filters=("$@")

[[ -d "$dir" ]] || die "$dir is not a directory"
dir=$(cd "$dir" && pwd)
if [[ -n "$secondary" ]]; then
    [[ -d "$secondary" ]] || die "$secondary is not a directory"
    secondary=$(cd "$secondary" && pwd)
fi

bin=${PJDFSTEST:-}
if [[ -z "$bin" ]]; then
    bin=$(command -v pjdfstest || true)
    [[ -n "$bin" ]] || bin="$HOME/.cargo/bin/pjdfstest"
fi
[[ -x "$bin" ]] || die "pjdfstest not found (run scripts/install-test-deps.sh)"
version=$("$bin" --version | awk '{print $2}')
[[ "$version" == "$want_version" ]] ||
    die "$bin is version $version; the case lists are for $want_version (cargo install --locked pjdfstest@$want_version)"

# Strip comments and blank lines.
list() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"; }
mapfile -t all < <(list "$cases_file")
mapfile -t excluded < <(list "$excluded_file")
declare -A known=() skip=()
for n in "${all[@]}"; do known[$n]=1; done
for n in "${excluded[@]}"; do
    [[ -n "${known[$n]:-}" ]] || die "excluded case $n is not a pjdfstest $want_version case"
    skip[$n]=1
done

matches() {
    [[ ${#filters[@]} -eq 0 ]] && return 0
    local f
    for f in "${filters[@]}"; do [[ "$1" == *"$f"* ]] && return 0; done
    return 1
}
selected=()
n_excluded=0
for n in "${all[@]}"; do
    matches "$n" || continue
    if [[ -n "${skip[$n]:-}" ]]; then
        n_excluded=$((n_excluded + 1))
    else
        selected+=("$n")
    fi
done
[[ ${#selected[@]} -gt 0 ]] || die "no case selected"

if [[ $(id -u) -eq 0 ]]; then
    for u in nobody tests; do
        id "$u" >/dev/null 2>&1 || die "user $u is missing (run scripts/install-test-deps.sh)"
        runuser -u "$u" -- test -x "$dir" ||
            die "user $u cannot search $dir (chmod o+x it and its parents; a FUSE mount needs allow_other)"
    done
else
    echo "pjdfstest.sh: not root: cases that need root will be skipped" >&2
fi

log=${PJDFSTEST_LOG:-}
tmplog=""
if [[ -z "$log" ]]; then
    tmplog=$(mktemp /tmp/pjdfstest.XXXXXX.log)
    log=$tmplog
fi
trap 'if [[ -n "$tmplog" ]]; then rm -f "$tmplog"; fi' EXIT

args=(-e -c "$config" -p "$dir")
[[ -n "$secondary" ]] && args+=(-s "$secondary")
echo "pjdfstest.sh: running ${#selected[@]} cases of pjdfstest $version in $dir" \
     "($n_excluded excluded, see scripts/pjdfstest-excluded.txt)"

set +e
NO_COLOR=1 CLICOLOR=0 RUST_BACKTRACE=${PJDFSTEST_BACKTRACE:-0} \
    timeout --kill-after=10 "${PJDFSTEST_TIMEOUT:-1800}" \
    "$bin" "${args[@]}" "${selected[@]/#/$prefix}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

declare -A seen=()
passed=0 failed=0 skipped=0 xfail=0
failed_names=()
while read -r name status; do
    seen[$name]=1
    case "$status" in
        ok) passed=$((passed + 1)) ;;
        skipped) skipped=$((skipped + 1)) ;;
        "failed as expected") xfail=$((xfail + 1)) ;;
        *) failed=$((failed + 1)); failed_names+=("$name ($status)") ;;
    esac
done < <(sed -e 's/\x1b\[[0-9;]*m//g' "$log" |
         sed -n -E 's/^([A-Za-z0-9_]+(::[A-Za-z0-9_]+)+)[[:space:]]+(ok|FAILED|skipped|PASSED UNEXPECTEDLY|failed as expected)$/\1 \3/p')

# A case that never reported (pjdfstest crashed or timed out) counts as failed.
for n in "${selected[@]}"; do
    if [[ -z "${seen[$n]:-}" ]]; then
        failed=$((failed + 1)); failed_names+=("$n (did not run)")
    fi
done
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
    failed=$((failed + 1)); failed_names+=("pjdfstest itself (exit status $rc)")
fi

echo
if [[ ${#failed_names[@]} -gt 0 ]]; then
    echo "pjdfstest.sh: failed cases:"
    printf '  %s\n' "${failed_names[@]}"
fi
[[ $xfail -gt 0 ]] && echo "pjdfstest.sh: $xfail cases failed as expected (settings.expected_failures)"
[[ $rc -eq 124 || $rc -eq 137 ]] && echo "pjdfstest.sh: timed out after ${PJDFSTEST_TIMEOUT:-1800}s"
echo "pjdfstest: $passed passed, $failed failed, $skipped skipped, $n_excluded excluded"
[[ $failed -eq 0 ]]
