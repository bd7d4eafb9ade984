#!/bin/sh
# Usage: run.sh PREFIX LIBDIR WORKDIR
# Builds main.c as a user of the installed package would -- the compiler and
# `pkg-config --cflags --libs convt`, with pkg-config seeing PREFIX and nothing else -- and runs it.
set -eu
prefix=$1
libdir=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
PKG_CONFIG_LIBDIR="$prefix/$libdir/pkgconfig"
export PKG_CONFIG_LIBDIR
unset PKG_CONFIG_PATH || true
flags=$(pkg-config --cflags --libs convt)
echo "pkg-config --cflags --libs convt: $flags"
case "$flags" in
  *"$prefix"*) ;;
  *) echo "consumer_c99: the flags do not point into $prefix" >&2; exit 1 ;;
esac
mkdir -p "$work"
# shellcheck disable=SC2086 # the flags are words
"${CC:-cc}" -std=c99 -pedantic -Wall -Wextra -Werror "$here/main.c" $flags -o "$work/consumer_c99"
LD_LIBRARY_PATH="$prefix/$libdir" "$work/consumer_c99"
