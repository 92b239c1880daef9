#!/usr/bin/env bash
# Run the file system exerciser fsx 0.3.2 (crates.io, asomers/fsx-rs) on FILE.
#
#   scripts/fsx.sh [--profile NAME] [--seed N] FILE [OPS]
#
# fsx creates (truncates) FILE, applies OPS (default 100000) pseudo-random
# operations to it and checks every read against its own model of the file.
# --profile NAME  a table of scripts/fsx.toml (default: full):
#                   full     every operation fsx supports (default)
#                   nommap   full without mmap reads/writes/msync
#                   large    full on a file of up to 64 MiB, 1 MiB requests
# --seed N        the seed of the operation sequence (default: $FSX_SEED, else
#                 1); the same seed and profile give the same sequence.
# Environment: FSX (binary, default: fsx on PATH or ~/.cargo/bin).
# FILE is left in place. On a failure fsx prints its last operations, the
# expected file content is kept in a printed directory, and the exit status
# is non-zero. On success the last line is
#   fsx: <ops> operations, profile <name>, ok
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profiles="$here/fsx.toml"
want_version="0.3.2"

die() { echo "fsx.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

profile=full
seed=${FSX_SEED:-1}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --profile) [[ $# -ge 2 ]] || usage; profile=$2; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        --seed) [[ $# -ge 2 ]] || usage; seed=$2; shift 2 ;;
        --seed=*) seed=${1#*=}; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[[ $# -ge 1 && $# -le 2 ]] || usage
file=$1
ops=${2:-100000}
[[ "$ops" =~ ^[1-9][0-9]*$ ]] || die "OPS must be a positive number, not '$ops'"
[[ "$seed" =~ ^[0-9]+$ ]] || die "the seed must be a number, not '$seed'"
[[ -d "$(dirname "$file")" ]] || die "$(dirname "$file") is not a directory"
[[ ! -e "$file" || -f "$file" ]] || die "$file exists and is not a regular file"

bin=${FSX:-}
if [[ -z "$bin" ]]; then
    bin=$(command -v fsx || true)
    [[ -n "$bin" ]] || bin="$HOME/.cargo/bin/fsx"
fi
[[ -x "$bin" ]] || die "fsx not found (run scripts/install-test-deps.sh)"
version=$("$bin" --version | awk '{print $2}')
[[ "$version" == "$want_version" ]] ||
    echo "fsx.sh: warning: $bin is version $version, scripts/fsx.toml was written for $want_version" >&2

work=$(mktemp -d /tmp/fsx.XXXXXX)
keep_work=0
trap 'if [[ $keep_work -eq 0 ]]; then rm -rf "$work"; fi' EXIT

# Resolve the profile (with `inherit`) into a plain fsx config file.
python3 - "$profiles" "$profile" "$work/fsx.toml" <<'PY' || exit 2
import sys, tomllib
path, name, out = sys.argv[1:]
with open(path, "rb") as f:
    profiles = tomllib.load(f)
def resolve(n, seen=()):
    if n not in profiles:
        sys.exit(f"fsx.sh: no profile '{n}' in {path} (have: {', '.join(profiles)})")
    if n in seen:
        sys.exit(f"fsx.sh: profile '{n}' inherits from itself")
    p = dict(profiles[n])
    base = p.pop("inherit", None)
    if base is None:
        return p
    merged = resolve(base, seen + (n,))
    for k, v in p.items():
        merged[k] = {**merged.get(k, {}), **v} if isinstance(v, dict) else v
    return merged
def val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    sys.exit(f"fsx.sh: unsupported value {v!r} in profile '{name}'")
cfg = resolve(name)
lines = [f"{k} = {val(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
for k, v in cfg.items():
    if isinstance(v, dict):
        lines.append(f"[{k}]")
        lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
PY

echo "fsx.sh: fsx $version, profile $profile, seed $seed, $ops operations on $file"
echo "fsx.sh: reproduce with: scripts/fsx.sh --profile $profile --seed $seed $file $ops"
start=$(date +%s.%N)
set +e
"$bin" -f "$work/fsx.toml" -N "$ops" -S "$seed" -P "$work" "$file"
rc=$?
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
if [[ $rc -ne 0 ]]; then
    keep_work=1
    echo "fsx.sh: FAILED (exit status $rc) after ${elapsed}s: profile $profile, seed $seed, $ops operations on $file" >&2
    echo "fsx.sh: config and expected content (*.fsxgood) kept in $work" >&2
    echo "fsx.sh: reproduce with: scripts/fsx.sh --profile $profile --seed $seed $file $ops" >&2
    exit 1
fi
echo "fsx.sh: done in ${elapsed}s"
echo "fsx: $ops operations, profile $profile, ok"
