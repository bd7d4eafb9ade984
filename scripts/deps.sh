#!/usr/bin/env bash
# Installs the Debian packages libconvt needs to build, test and demo, when any is missing.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
packages=(cmake g++ make pkg-config libopenblas-dev libopenblas-openmp-dev catch2 "$@")
# The binding tests: Go (cgo), Debian's numpy for Debian's /usr/bin/python3, and Rust -- a
# cargo already on the PATH (rustup's) will do, else Debian's.
packages+=(golang-go python3-numpy)
command -v cargo > /dev/null 2>&1 || packages+=(cargo)
# The hardening checks (scripts/hardening.sh): clang with its LLVM 14 sanitizer and libFuzzer
# runtimes and its OpenMP runtime with the archer tool for TSan, abidiff, valgrind.
packages+=(clang libclang-rt-14-dev libomp-14-dev abigail-tools valgrind)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
