#!/usr/bin/env bash
# Builds libconvt (Release) with its benchmark and runs it over shared/bench/suite.json: every
# shape, both data formats, 1 and 2 threads, against the bare SGEMM, oneDNN (libdnnl-dev is
# installed for it) and the float64 direct loop. Extra arguments go to convt_bench
# (--threads 1,2 --formats nwc,ncw --shape NAME --json FILE --suite FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh libdnnl-dev
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCONVT_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target convt_bench
suite=../shared/bench/suite.json
[ -f "$suite" ] || suite=shared/bench/suite.json
exec ./build-bench/convt_bench --suite "$suite" "$@"
