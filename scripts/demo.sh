#!/usr/bin/env bash
# Builds libconvt and runs the demo: Keras's documented example and a HiFi-GAN layer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCONVT_BUILD_TESTS=OFF > /dev/null
cmake --build build -j "$(nproc)" --target convt_demo
./build/convt_demo
