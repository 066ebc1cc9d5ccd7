#!/usr/bin/env bash
# Checks the module arrows of shared/DESIGN.md ("Architecture"): cli -> ipc -> config,
# daemon -> ipc -> config; config and ipc use neither Asio nor spdlog.
# usage: check_layering.sh <source root> <build dir> <probe target>:<header>:<forbidden|allowed>...
# The arrows are structural (each module library exposes only its own folder, see the root
# CMakeLists.txt): each probe target compiles `#include "<header>"` with one module's include
# directories; a forbidden probe must fail to find the header, an allowed one must build.
# Asio and spdlog are system headers that every module could find, so they are grepped for.
set -u
root="${1:?usage: check_layering.sh <source root> <build dir> <probe>...}"
build="${2:?usage: check_layering.sh <source root> <build dir> <probe>...}"
shift 2
status=0
for module in config ipc; do
  if grep -RHnE '#include <(boost/asio|spdlog)' "$root/$module"; then
    echo "layering: $module must not use Asio or spdlog"
    status=1
  fi
done
for probe in "$@"; do
  IFS=: read -r target header expected <<<"$probe"
  out=$(cmake --build "$build" --target "$target" 2>&1)
  code=$?
  if [ "$expected" = allowed ]; then
    if [ $code -ne 0 ]; then
      echo "layering: $target should build (its module may include $header):"
      echo "$out" | tail -n 20
      status=1
    fi
  elif [ $code -eq 0 ]; then
    echo "layering: $target compiled: its module can include $header against the arrows"
    status=1
  elif ! grep -q "$header: No such file or directory" <<<"$out"; then
    echo "layering: $target failed, but not because $header was not found:"
    echo "$out" | tail -n 20
    status=1
  else
    echo "layering: $target: $header is out of reach, as it should be"
  fi
done
[ $status -eq 0 ] && echo "layering: every include follows cli -> ipc -> config, daemon -> ipc -> config"
exit $status
