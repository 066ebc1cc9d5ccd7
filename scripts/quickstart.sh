#!/usr/bin/env bash
# Sets up, builds, starts the example app under pmx and shows `pmx list`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" "$root/build" -DPMX_BUILD_TESTS=OFF
pmx="$root/build/cli/pmx"
"$pmx" delete hello >/dev/null 2>&1 || true
"$pmx" start "$root/examples/hello.sh" --name hello >/dev/null
"$pmx" list
echo
echo "pmx is at $pmx (pmxd beside it in build/daemon). Try: $pmx describe hello, $pmx stop hello, $pmx kill"
