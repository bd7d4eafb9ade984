#!/usr/bin/env bash
# Writes the ABI baseline of libconvt.so.1 from a git revision (default: HEAD): builds that
# revision's library with debug information in a temporary directory and records
#   capi/abi/libconvt.so.1.abi   abidw's description of every exported function and its types
#   capi/abi/constants.txt       every CONVT_* enum value and value macro of its public header
# Run it when a release is made (capi/abi/README.md says when and why), then commit both files.
# Needs abigail-tools (scripts/deps.sh installs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rev="${1:-HEAD}"
work="$(mktemp -d "${TMPDIR:-/tmp}/convt-abi-baseline.XXXXXX")"
trap 'rm -rf "$work"' EXIT

mkdir "$work/src"
git -C "$repo" archive "$rev" | tar -x -C "$work/src"
# Relative paths in the debug information: the baseline does not depend on where it was built.
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fdebug-prefix-map=$work/src=." -DCONVT_BUILD_TESTS=OFF \
  -DCONVT_BUILD_EXAMPLES=OFF -DCONVT_BUILD_BENCH=OFF > /dev/null
cmake --build "$work/build" -j "$(nproc)" --target convt > /dev/null
"$here/check_abi.sh" --dump "$work/build/libconvt.so.1" "$work/src/include/convt" "$here"
echo "ABI baseline of $(git -C "$repo" rev-parse --short "$rev") written to capi/abi/"
