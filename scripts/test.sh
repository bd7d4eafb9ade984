#!/usr/bin/env bash
# Builds libconvt warning-free (-Werror) with every test, runs them all under CTest, then the
# hardening checks (scripts/hardening.sh: sanitizers, fault injection, fuzzing, ABI, valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DCONVT_WERROR=ON > /dev/null
cmake --build build-test -j "$(nproc)"
# (A test that hangs -- say a kernel writing past its output into the heap -- fails at 300 s.)
ctest --test-dir build-test --output-on-failure --timeout 300 -j "$(nproc)"
scripts/hardening.sh
