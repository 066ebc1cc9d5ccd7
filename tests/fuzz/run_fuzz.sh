#!/usr/bin/env bash
# Runs a fuzzer for RUNS inputs (default 20000), or for N seconds when RUNS is "<N>s", from its
# seed corpus (<name>_corpus/ beside this script for <build>/tests/fuzz/<name>_fuzz), writing the
# inputs it finds to a temporary folder (never into the repository).
# The longer runs: tests/fuzz/run_fuzz.sh <build>/tests/fuzz/request_fuzz 100000
#                  PMX_FUZZ_SEED=0 tests/fuzz/run_fuzz.sh <build>/tests/fuzz/request_fuzz 600s
set -euo pipefail
fuzzer="${1:?usage: run_fuzz.sh <fuzzer binary> [runs]}"
runs="${2:-20000}"
here="$(cd "$(dirname "$0")" && pwd)"
name="$(basename "$fuzzer")"
corpus="$here/${name%_fuzz}_corpus"
[ -d "$corpus" ] || { echo "run_fuzz.sh: no seed corpus at $corpus" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The suite's short run is a regression check: a fixed seed makes it repeatable, so a test run
# never fails by chance. PMX_FUZZ_SEED=0 (libFuzzer's "random") explores instead.
limit=(-runs="$runs")
[[ "$runs" == *s ]] && limit=(-max_total_time="${runs%s}")
"$fuzzer" -seed="${PMX_FUZZ_SEED:-1}" "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="${TMPDIR:-/tmp}/pmx-fuzz-" \
  "$work" "$corpus" 2>&1 | tail -n 15
