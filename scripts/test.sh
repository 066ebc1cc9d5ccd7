#!/usr/bin/env bash
# Sets up, builds and runs every test: the normal build, then the same suite against binaries
# built with AddressSanitizer + UndefinedBehaviorSanitizer (skip with PMX_SKIP_SANITIZE=1).
# Both passes are unity builds (a few large files per library instead of one per source: a
# third less compile time); a plain `scripts/setup.sh` builds file by file, as developers do,
# so an include a file forgot still fails there. The sanitizer pass skips the fuzzers, which
# the first pass built with their own sanitizers already, and builds no integration programs:
# the first pass's run against its sanitized pmx, pmxd and pmx-runtime (PMX_ITEST_BINARIES),
# while its unit tests are compiled with the sanitizers, since they run the code in-process.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# One test more than there are cores: the integration tests spend much of their time waiting
# on the processes they drive.
jobs="$(( $(nproc) + 1 ))"

"$root/scripts/setup.sh" "$root/build" -DCMAKE_UNITY_BUILD=ON
(cd "$root/build" && ctest --output-on-failure -j"$jobs" --timeout 300)

if [ "${PMX_SKIP_SANITIZE:-0}" != 1 ]; then
  "$root/scripts/setup.sh" "$root/build-asan" -DPMX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_UNITY_BUILD=ON -DPMX_FUZZ=OFF -DPMX_INTEGRATION_TESTS=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd "$root/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 600)
  (cd "$root/build" && PMX_ITEST_BINARIES="$root/build-asan" PMX_ITEST_SANITIZED=1 \
    ctest --output-on-failure -j"$jobs" --timeout 600 -L integration)
fi
