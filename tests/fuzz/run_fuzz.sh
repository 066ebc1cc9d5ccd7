#!/usr/bin/env bash
# Runs the ecosystem fuzzer for RUNS inputs (default 20000) from the seed corpus, writing the
# inputs it finds to a temporary folder (never into the repository).
# The longer run: tests/fuzz/run_fuzz.sh <build>/tests/fuzz/ecosystem_fuzz 100000
set -euo pipefail
fuzzer="${1:?usage: run_fuzz.sh <fuzzer binary> [runs]}"
runs="${2:-20000}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$fuzzer" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="${TMPDIR:-/tmp}/pmx-fuzz-" \
  "$work" "$here/corpus" 2>&1 | tail -n 15
