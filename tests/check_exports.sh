#!/bin/sh
# Proves that the shared library exports exactly the functions the version script lists:
# nothing of the C++ core or of the statically linked OpenBLAS leaks out, nothing is missing.
set -eu
lib=$1
map=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort)
listed=$(sed -n 's/^ *\(convt_[a-z0-9_]*\);.*/\1/p' "$map" | sort)
if [ "$exported" != "$listed" ]; then
  echo "exported functions differ from the version script:"
  echo "$exported" > /tmp/convt_exported.$$
  echo "$listed" | diff - /tmp/convt_exported.$$ || true
  rm -f /tmp/convt_exported.$$
  exit 1
fi
others=$(nm -D --defined-only "$lib" | awk '$2 != "T" && $2 != "A" {print $3}')
if [ -n "$others" ]; then
  echo "unexpected exported symbols: $others"
  exit 1
fi
echo "libconvt exports exactly the $(echo "$listed" | wc -l) functions of its version script"
