#!/usr/bin/env bash
# tests/run.sh: install what is missing, build, and run every test: once in
# a normal -Werror build, once under AddressSanitizer + UndefinedBehavior-
# Sanitizer. Tests start their own mosquitto, simulator and daemon on free
# loopback ports, so nothing needs to run beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

./deploy/deps.sh

run_suite() {
  local dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLANTROOM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  echo "=== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 900
}

run_suite build
# halt_on_error: the first report fails the test; detect_leaks: a leak is a failure.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan -DPLANTROOM_SANITIZE=ON
echo "=== all tests passed (normal and ASan/UBSan builds)"
