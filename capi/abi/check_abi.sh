#!/usr/bin/env bash
# The ABI gate: compares a freshly built libconvt.so.1 (with debug information, e.g.
# RelWithDebInfo) and its public header with the committed baseline in this directory, and
# fails on anything but additions.
#   1. abidiff (Debian's abigail-tools) against libconvt.so.1.abi: a removed or changed
#      function, or a changed type it uses, fails; added functions pass.
#   2. constants.txt: every CONVT_* enum value and value macro of the baseline must still
#      exist with the same value (enums travel as int32_t, so abidiff cannot see them); new
#      names pass.
# Usage: capi/abi/check_abi.sh <libconvt.so.1> <include/convt>
#        capi/abi/check_abi.sh --dump <libconvt.so.1> <include/convt> <out-dir>  (baseline)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# "NAME VALUE" for every enumerator and numeric macro of the header (not the version), the
# values as the C compiler sees them.
constants() {
  local dir prog names
  dir="$(mktemp -d "${TMPDIR:-/tmp}/convt-constants.XXXXXX")"
  names=$( (grep -oE '\bCONVT_[A-Z0-9_]+[[:space:]]*=[^=]' "$1/convt.h" | sed 's/[[:space:]]*=.*//'
            sed -n 's/^#define[[:space:]]\{1,\}\(CONVT_[A-Z0-9_]*\)[[:space:]]\{1,\}(\{0,1\}-\{0,1\}[0-9][0-9]*)\{0,1\}[[:space:]]*$/\1/p' "$1/convt.h") |
          grep -v '^CONVT_VERSION_' | sort -u)
  prog="$dir/constants.c"
  { echo '#include <stdio.h>'
    echo '#include "convt.h"'
    echo 'int main(void) {'
    for n in $names; do echo "  printf(\"$n %lld\\n\", (long long)($n));"; done
    echo '  return 0;'
    echo '}'; } > "$prog"
  ${CC:-cc} -std=c99 -I "$1" -o "$dir/constants" "$prog"
  "$dir/constants" | sort
  rm -rf "$dir"
}

abidw_options=(--no-corpus-path --no-comp-dir-path --no-show-locs --drop-private-types
               --exported-interfaces-only --no-elf-needed --type-id-style hash)

if [ "${1:-}" = "--dump" ]; then
  lib=$2 headers=$3 out=$4
  abidw "${abidw_options[@]}" --headers-dir "$headers" --out-file "$out/libconvt.so.1.abi" "$lib"
  constants "$headers" > "$out/constants.txt"
  exit 0
fi

lib=$1 headers=$2
status=0
# Bit 4 of abidiff's status is "ABI change", 8 "incompatible change", 1 and 2 errors. With
# --no-added-syms, additions are no change at all: anything left is a removal or a change.
if ! abidiff --no-added-syms --headers-dir2 "$headers" "$here/libconvt.so.1.abi" "$lib" \
     > "${TMPDIR:-/tmp}/convt-abidiff.$$" 2>&1; then
  echo "ABI gate: libconvt.so.1 differs from capi/abi/libconvt.so.1.abi by more than additions:"
  cat "${TMPDIR:-/tmp}/convt-abidiff.$$"
  status=1
fi
added=$(abidiff --headers-dir2 "$headers" "$here/libconvt.so.1.abi" "$lib" 2>&1 |
        sed -n 's/^Functions changes summary: .* \([0-9][0-9]*\) Added.*/\1/p' || true)
rm -f "${TMPDIR:-/tmp}/convt-abidiff.$$"

missing=$(comm -23 "$here/constants.txt" <(constants "$headers"))
if [ -n "$missing" ]; then
  echo "ABI gate: constants of the baseline header that are gone or renumbered (name value):"
  echo "$missing" | sed 's/^/  /'
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "ABI gate: $(grep -c '<elf-symbol' "$here/libconvt.so.1.abi") baseline functions and" \
       "$(wc -l < "$here/constants.txt") constants unchanged; ${added:-0} functions added"
fi
exit "$status"
