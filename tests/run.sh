#!/usr/bin/env bash
# tests/run.sh: install what is missing, build, and run every test: once in
# a normal -Werror build (gcc), once under AddressSanitizer + UndefinedBehavior-
# Sanitizer (clang, with the fuzz targets run for a bounded time). Tests start their own mosquitto, simulator and daemon on free
# loopback ports, so nothing needs to run beforehand.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
# Tests mostly wait (on a broker, a simulator, hold times, group waits), using
# about a third of the CPU at one per core: run twice as many side by side.
# Each starts its own processes on free ports, and none depends on speed.
TEST_JOBS=$((JOBS * 2))

./deploy/deps.sh

# run_suite DIR [cmake options...]; CTEST_ARGS (an array) adds ctest options.
CTEST_ARGS=()
run_suite() {
  local dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLANTROOM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  echo "=== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$TEST_JOBS" --timeout 900 "${CTEST_ARGS[@]}"
}

run_suite build
# halt_on_error: the first report fails the test; detect_leaks: a leak is a failure.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The sanitizer pass is built with clang when it is there (deps.sh installs
# it): its UBSan checks float-to-integer casts out of range
# (float-cast-overflow, which GCC's leaves out unless named), and clang
# brings libFuzzer, so this pass also builds the fuzz targets and runs each
# for a bounded time (ctest label "fuzz", tests/fuzz/). Without clang: GCC,
# no fuzzing.
asan_cc=gcc
asan_opts=(-DPLANTROOM_SANITIZE=ON)
if command -v clang >/dev/null 2>&1; then
  asan_cc=clang
  asan_opts+=(-DPLANTROOM_FUZZ=ON)
fi
# a build directory made with the other compiler cannot switch: start it again
if [ -f build-asan/CMakeCache.txt ] &&
   ! grep -q "^CMAKE_C_COMPILER:FILEPATH=.*/$asan_cc\$" build-asan/CMakeCache.txt; then
  rm -rf build-asan
fi
# The package tests (label "package") build their own .deb without
# sanitizers: the first pass ran them.
CTEST_ARGS=(-LE package)
CC=$asan_cc run_suite build-asan "${asan_opts[@]}"
echo "=== all tests passed (gcc build; $asan_cc ASan/UBSan build${asan_opts[1]:+ with fuzzing})"
