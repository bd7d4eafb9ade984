#!/usr/bin/env bash
# Builds libconvt warning-free (-Werror) with every test and runs them all under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DCONVT_WERROR=ON > /dev/null
cmake --build build-test -j "$(nproc)"
ctest --test-dir build-test --output-on-failure -j "$(nproc)"
