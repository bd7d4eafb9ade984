#!/usr/bin/env bash
# The hardening checks, after the normal test suite (scripts/test.sh runs this last). Each step
# prints its time and stops the script with a non-zero status on the first finding.
#
#   asan      clang ASan + UBSan (+ LeakSanitizer) build of the whole test suite, under CTest
#   fault     the fault-injection program (tests/fault_injection.cpp) under ASan + LSan
#   fuzz      the C API fuzzer (tests/fuzz) from the committed seed corpus, CONVT_FUZZ_SECONDS
#   tsan      clang TSan build of the concurrency and determinism tests
#   abi       the ABI gate (capi/abi/check_abi.sh) on a RelWithDebInfo build
#   valgrind  valgrind memcheck on a subset of the tests and on the fuzz seed corpus
#
# Usage: scripts/hardening.sh [step ...]          (no step: all of them, in this order)
# Environment:
#   CONVT_HARDENING_DIR  build root (default: build-hardening in the checkout)
#   CONVT_FUZZ_SECONDS   how long the fuzzer runs (default 120; README.md shows a long run)
#   CONVT_JOBS           parallel build and test jobs (default: nproc)
# The sanitizer builds skip the examples, the benchmark and the binding tests: other toolchains
# and interpreters do not load the sanitizer runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"
root="${CONVT_HARDENING_DIR:-$src/build-hardening}"
fuzz_seconds="${CONVT_FUZZ_SECONDS:-120}"
jobs="${CONVT_JOBS:-$(nproc)}"
mkdir -p "$root"

scripts/deps.sh

# Every sanitizer report is fatal and comes with a stack.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

common=(-DCONVT_WERROR=ON -DCONVT_BUILD_EXAMPLES=OFF -DCONVT_BUILD_BENCH=OFF)

# ---- the builds (each brought up to date once, by the first step that needs it) ---------------
# clang ASan + UBSan, with libFuzzer coverage instrumentation: the test suite, the fault
# injection and the fuzzer all run from this one build.
build_asan() {
  [ -n "${built_asan:-}" ] && return 0
  CC=clang CXX=clang++ cmake -S "$src" -B "$root/asan" -DCMAKE_BUILD_TYPE=Release "${common[@]}" \
    -DCONVT_SANITIZE=address,undefined -DCONVT_FUZZ=ON > /dev/null
  cmake --build "$root/asan" -j "$jobs" > "$root/asan-build.log" 2>&1 ||
    { tail -50 "$root/asan-build.log"; return 1; }
  built_asan=1
}

# clang TSan. libgomp (gcc's OpenMP runtime, the one the release build uses) is not known to
# TSan, and suppressing what it reports would hide races. This build uses LLVM's libomp with
# its archer tool instead, which tells TSan about OpenMP's synchronization, and OpenBLAS (the
# same Debian OpenMP build as the static archive) as a shared library, so that its
# uninstrumented code is a module of its own. TSan then ignores only interceptor calls
# (memcpy, memset) made from uninstrumented modules: the OpenMP runtime's allocator and
# OpenBLAS's buffer pool, whose spin locks it cannot see. Every access of libconvt's own code
# is checked, and no report is suppressed.
build_tsan() {
  [ -n "${built_tsan:-}" ] && return 0
  local blas
  blas="/usr/lib/$(gcc -print-multiarch)/openblas-openmp/libopenblas.so"
  CC=clang CXX=clang++ cmake -S "$src" -B "$root/tsan" -DCMAKE_BUILD_TYPE=Release "${common[@]}" \
    -DCONVT_SANITIZE=thread -DCONVT_OPENBLAS_OMP_STATIC="$blas" > /dev/null
  cmake --build "$root/tsan" -j "$jobs" --target convt_tests > "$root/tsan-build.log" 2>&1 ||
    { tail -50 "$root/tsan-build.log"; return 1; }
  built_tsan=1
}

# gcc RelWithDebInfo, no sanitizer: the ABI gate needs the debug information, valgrind an
# uninstrumented build.
build_relg() {
  [ -n "${built_relg:-}" ] && return 0
  cmake -S "$src" -B "$root/relg" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${common[@]}" > /dev/null
  cmake --build "$root/relg" -j "$jobs" --target convt convt_tests convt_fault_injection \
    convt_fuzz_replay > "$root/relg-build.log" 2>&1 || { tail -50 "$root/relg-build.log"; return 1; }
  built_relg=1
}

# ---- the steps ---------------------------------------------------------------------------------
step_asan() {
  build_asan
  ctest --test-dir "$root/asan" -j "$jobs" --output-on-failure --timeout 1200 -E '^fault_injection'
}

step_fault() {
  build_asan
  "$root/asan/tests/convt_fault_injection"
}

step_fuzz() {
  build_asan
  # A fresh working corpus each run, grown from the committed seeds (which stay read-only).
  rm -rf "$root/fuzz-corpus" "$root/fuzz-artifacts"
  mkdir -p "$root/fuzz-corpus" "$root/fuzz-artifacts"
  if ! "$root/asan/tests/fuzz/convt_fuzz" -max_total_time="$fuzz_seconds" -timeout=30 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$root/fuzz-artifacts/" \
       "$root/fuzz-corpus" "$src/tests/fuzz/corpus" > "$root/fuzz.log" 2>&1; then
    grep -v '^#[0-9]' "$root/fuzz.log" | tail -60
    echo "The input is in $root/fuzz-artifacts/; rerun it with" \
         "$root/asan/tests/fuzz/convt_fuzz <file> (CONVT_FUZZ_TRACE=1 prints each call)."
    return 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' "$root/fuzz.log"
}

step_tsan() {
  build_tsan
  local llvm_lib
  llvm_lib="$(cd "$(clang -print-resource-dir)/../.." && pwd)"
  OMP_TOOL_LIBRARIES="$llvm_lib/libarcher.so" \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1" \
    "$root/tsan/tests/convt_tests" "[threads],[determinism],*thread*"
}

step_abi() {
  build_relg
  capi/abi/check_abi.sh "$root/relg/libconvt.so.1" include/convt
}

step_valgrind() {
  build_relg
  local vg=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
            --errors-for-leak-kinds=definite --show-leak-kinds=definite -q)
  # Not the fault injection: valgrind replaces operator new itself.
  "${vg[@]}" "$root/relg/tests/convt_tests" \
    "[errors],[params],[lifecycle],[cpp],[stream],[regularizers],[initializers],[activation]"
  "${vg[@]}" "$root/relg/tests/fuzz/convt_fuzz_replay" "$src/tests/fuzz/corpus"
}

all=(asan fault fuzz tsan abi valgrind)
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=("${all[@]}")
summary=()
current=""
# set -e stops the script at a step's first failing command; this says which step it was.
trap 'rc=$?; [ "$rc" -ne 0 ] && [ -n "$current" ] &&
      echo "==== hardening: $current FAILED after $((SECONDS - t0)) s" >&2' EXIT
for s in "${steps[@]}"; do
  case " ${all[*]} " in *" $s "*) ;; *) echo "unknown step '$s'; steps: ${all[*]}" >&2; exit 2 ;; esac
  echo "==== hardening: $s"
  current=$s
  t0=$SECONDS
  "step_$s"
  summary+=("$s $((SECONDS - t0)) s")
  echo "==== hardening: $s passed in $((SECONDS - t0)) s"
done
current=""
echo "==== hardening passed: $(IFS=,; echo "${summary[*]}" | sed 's/,/, /g')"
