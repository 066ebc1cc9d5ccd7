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
binaries_ready="$root/build-asan/.binaries-ready"
if ((sanitize)); then
  mkdir -p "$root/build-asan"
  rm -f "$binaries_ready"
  # Started first, at the lowest priority, so that it takes only the CPU the first pass leaves
  # (its links, its tests' waits): in the same session, since the kernel's autogroups give
  # each session an equal share whatever the nice value. Its own process group (set -m), so
  # that a failed first pass stops the whole build. pmx, pmxd, pmx-runtime and pmx-serve (which
  # the sanitized pmx runs from its own build) first: the sanitized integration tests start with
  # them, while the unit tests compile.
  set -m
  (
    PMX_SETUP_TARGETS="pmx pmxd pmx-runtime pmx-serve" nice -n 19 "$root/scripts/setup.sh" "$root/build-asan" \
      -DPMX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_UNITY_BUILD=ON -DPMX_FUZZ=OFF -DPMX_INTEGRATION_TESTS=OFF
    touch "$binaries_ready"
    nice -n 19 cmake --build "$root/build-asan" -j"$(nproc)"
  ) >"$asan_build_log" 2>&1 &
  asan_build=$!
  set +m
  trap 'kill -- -"$asan_build" 2>/dev/null || true' EXIT
  # The unit tests are built and run in the sanitizer pass only (tests/CMakeLists.txt).
  "$root/scripts/setup.sh" "$root/build" -DCMAKE_UNITY_BUILD=ON -DPMX_UNIT_TESTS=OFF
else
  "$root/scripts/setup.sh" "$root/build" -DCMAKE_UNITY_BUILD=ON -DPMX_UNIT_TESTS=ON
fi

(cd "$root/build" && ctest --output-on-failure -j"$jobs" --timeout 300)

if ((sanitize)); then
  sanitizer_build_failed() {
    cat "$asan_build_log"
    echo "test.sh: the sanitizer build failed" >&2
    exit 1
  }
  echo "test.sh: waiting for the sanitized pmx, pmxd and pmx-runtime (log: $asan_build_log)"
  while [ ! -e "$binaries_ready" ]; do
    kill -0 "$asan_build" 2>/dev/null || { wait "$asan_build" || true; [ -e "$binaries_ready" ] || sanitizer_build_failed; }
    sleep 1
  done
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Left out here: the tests labelled crash-timing, which SIGKILL pmxd at chosen instants round
  # after round (a killed pmxd reports nothing to the sanitizers; the first pass runs them).
  status=0
  (cd "$root/build" && PMX_ITEST_BINARIES="$root/build-asan" PMX_ITEST_SANITIZED=1 \
    ctest --output-on-failure -j"$jobs" --timeout 600 -L integration -LE crash-timing) || status=$?
  echo "test.sh: waiting for the sanitizer build's unit tests"
  wait "$asan_build" || sanitizer_build_failed
  trap - EXIT
  tail -n 3 "$asan_build_log"
  (cd "$root/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 600) || status=$?
  exit "$status"
fi
