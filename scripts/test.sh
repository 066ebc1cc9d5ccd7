#!/usr/bin/env bash
# Sets up, builds and runs every test: the normal build, then the same suite against binaries
# built with AddressSanitizer + UndefinedBehaviorSanitizer (skip with PMX_SKIP_SANITIZE=1).
# Both passes are unity builds (a few large files per library instead of one per source: a
# third less compile time); a plain `scripts/setup.sh` builds file by file, as developers do,
# so an include a file forgot still fails there. The sanitizer pass skips the fuzzers, which
# the first pass built with their own sanitizers already, and builds no integration programs:
# the first pass's run against its sanitized pmx, pmxd and pmx-runtime (PMX_ITEST_BINARIES),
# while its unit tests are compiled with the sanitizers, since they run the code in-process (the
# first pass builds none: both would be unoptimised, and the sanitized run checks more).
# The sanitizer build runs at the lowest priority beside the first pass's build and tests, which
# spend much of their time waiting on the processes they drive.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# One test more than there are cores: the integration tests spend much of their time waiting
# on the processes they drive.
jobs="$(( $(nproc) + 1 ))"
sanitize=1
[ "${PMX_SKIP_SANITIZE:-0}" != 1 ] || sanitize=0

"$root/scripts/setup.sh" --packages-only

asan_build_log="$root/build-asan/build.log"
if ((sanitize)); then
  mkdir -p "$root/build-asan"
  # Started first, at the lowest priority: it takes the CPU the first pass leaves (its
  # configure, its links, the tests' waits).
  setsid nice -n 19 "$root/scripts/setup.sh" "$root/build-asan" -DPMX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_UNITY_BUILD=ON -DPMX_FUZZ=OFF -DPMX_INTEGRATION_TESTS=OFF >"$asan_build_log" 2>&1 &
  asan_build=$!
  # Its own process group (setsid), so that a failed first pass stops the whole build with it.
  trap 'kill -- -"$asan_build" 2>/dev/null || true' EXIT
  # The unit tests are built and run in the sanitizer pass only (tests/CMakeLists.txt).
  "$root/scripts/setup.sh" "$root/build" -DCMAKE_UNITY_BUILD=ON -DPMX_UNIT_TESTS=OFF
else
  "$root/scripts/setup.sh" "$root/build" -DCMAKE_UNITY_BUILD=ON -DPMX_UNIT_TESTS=ON
fi

(cd "$root/build" && ctest --output-on-failure -j"$jobs" --timeout 300)

if ((sanitize)); then
  echo "test.sh: waiting for the sanitizer build (log: $asan_build_log)"
  if ! wait "$asan_build"; then
    cat "$asan_build_log"
    echo "test.sh: the sanitizer build failed" >&2
    exit 1
  fi
  trap - EXIT
  tail -n 3 "$asan_build_log"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The sanitized unit tests beside the integration tests against the sanitized binaries. Left
  # out there: the tests labelled crash-timing, which SIGKILL pmxd at chosen instants round
  # after round (a killed pmxd reports nothing to the sanitizers; the first pass runs them).
  unit_log="$root/build-asan/unit-tests.log"
  (cd "$root/build-asan" && ctest --output-on-failure -j2 --timeout 600) >"$unit_log" 2>&1 &
  unit_tests=$!
  status=0
  (cd "$root/build" && PMX_ITEST_BINARIES="$root/build-asan" PMX_ITEST_SANITIZED=1 \
    ctest --output-on-failure -j"$jobs" --timeout 600 -L integration -LE crash-timing) || status=$?
  wait "$unit_tests" || status=$?
  echo "test.sh: the sanitized unit tests (log: $unit_log):"
  cat "$unit_log"
  exit "$status"
fi
