#!/usr/bin/env bash
# Fails when a module includes a module it must not depend on (shared/DESIGN.md, "Architecture"):
# config includes only config; ipc only ipc and config; daemon and cli never each other;
# config and ipc use neither Asio nor spdlog.
set -u
root="${1:?usage: check_layering.sh <source root>}"
status=0
check() {  # module, allowed prefixes (regex), forbidden library pattern
  local module=$1 allowed=$2 forbidden=${3:-}
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    if [[ ! $inc =~ ^($allowed)/ ]]; then
      echo "layering: $file includes \"$inc\": $module may include only $allowed"
      status=1
    fi
  done < <(grep -RHn --include='*.hpp' --include='*.cpp' '#include "' "$root/$module" | sed 's/:[0-9]*:/:/')
  if [ -n "$forbidden" ] && grep -RHnE "#include <($forbidden)" "$root/$module"; then
    echo "layering: $module must not use $forbidden"
    status=1
  fi
}
check config 'config' 'boost/asio|spdlog'
check ipc 'ipc|config' 'boost/asio|spdlog'
check daemon 'daemon|ipc|config'
check cli 'cli|ipc|config'
[ $status -eq 0 ] && echo "layering: every include follows cli -> ipc -> config, daemon -> ipc -> config"
exit $status
