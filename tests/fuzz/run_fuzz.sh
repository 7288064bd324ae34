#!/bin/sh
# tests/fuzz/run_fuzz.sh TARGET CORPUS DICT SECONDS ARTIFACTS: run one
# libFuzzer target for a bounded time (ctest, label "fuzz"): every seed of
# CORPUS first (the regression inputs of bugs found included), then new
# inputs for SECONDS, into a scratch corpus so that the repository's stays
# as it is. A crash, leak, timeout or sanitizer report fails the test; the
# input is kept in ARTIFACTS (reproduce: TARGET ARTIFACTS/crash-...).
# SPDX-License-Identifier: Apache-2.0
set -eu
target=$1 corpus=$2 dict=$3 seconds=$4 artifacts=$5
name=$(basename "$target")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -dict="$dict" \
  -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$scratch" "$corpus"
