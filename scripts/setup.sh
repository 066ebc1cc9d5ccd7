#!/usr/bin/env bash
# Installs what pmx needs from Debian's packages (when missing) and builds it.
# usage: scripts/setup.sh [build-dir] [extra cmake args...]
#        scripts/setup.sh --packages-only     (install what is missing, build nothing)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
packages_only=0
[ "${1:-}" != --packages-only ] || packages_only=1
build="${1:-$root/build}"
shift || true

packages=(g++ cmake make libboost-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev
          catch2 libcli11-dev zlib1g-dev libncurses-dev tmux clang libclang-rt-14-dev ninja-build
          dpkg-dev   # dpkg-shlibdeps, for the .deb (tests/package)
          git openssh-client openssh-server  # pmx deploy's test runs its own sshd
          python3-prometheus-client)  # the tests parse pmxd's Prometheus text with it
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi

((!packages_only)) || exit 0

# Ninja for a new build folder (it schedules both cores better than make); an existing folder
# keeps the generator it was made with.
generator=()
[ -f "$build/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# PMX_SETUP_TARGETS: build only these targets (scripts/test.sh builds the sanitized binaries first).
targets=()
[ -z "${PMX_SETUP_TARGETS:-}" ] || read -r -a targets <<<"--target $PMX_SETUP_TARGETS"
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
