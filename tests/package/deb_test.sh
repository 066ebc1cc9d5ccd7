#!/usr/bin/env bash
# The .deb, end to end: cpack builds it from this build tree's binaries, dpkg -x unpacks it
# into a scratch root, and the unpacked pmx runs an app with the unpacked pmxd.
# usage: deb_test.sh <build-dir> <version> <fixture-sleeper> <sanitized 0|1> <has pmx-runtime 0|1>
# Exit 77 (ctest: skipped) when dpkg-deb or cpack is missing, or under the sanitizers.
set -euo pipefail
build=$1 version=$2 sleeper=$3 sanitized=$4 has_runtime=$5

if ((sanitized)); then
  echo "skipped: the sanitizer build is not what is packaged"
  exit 77
fi
for tool in dpkg-deb cpack; do
  if ! command -v "$tool" >/dev/null; then
    echo "skipped: $tool is missing (package dpkg-dev / cmake)"
    exit 77
  fi
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pmx-deb-test.XXXXXX")
daemon_pid=""
finish() {
  local status=$?
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -9 "$daemon_pid" || true; fi
  if ((status == 0)); then rm -rf "$scratch"; else echo "kept for inspection: $scratch"; fi
}
trap finish EXIT
fail() {
  echo "FAIL: $*" >&2
  if [[ -f $scratch/home/pmx.log ]]; then echo "--- pmx.log" >&2; cat "$scratch/home/pmx.log" >&2; fi
  exit 1
}
# wait_for <seconds> <command...>: polls the command until it succeeds, or fails at the deadline.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# The package, from the binaries already built here (cpack's staging stays in the scratch dir).
(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) || { cat "$scratch/cpack.log"; fail "cpack"; }
deb=$scratch/out/pmx_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || fail "no $deb (cpack made: $(ls "$scratch/out"))"

info=$(dpkg-deb -I "$deb")
grep -q "^ Package: pmx$" <<<"$info" || fail "control file: no Package: pmx"$'\n'"$info"
grep -q "^ Version: $version$" <<<"$info" || fail "control file: no Version: $version"$'\n'"$info"
grep -q "^ Depends: .*libc6" <<<"$info" || fail "control file: Depends lacks libc6 (dpkg-shlibdeps)"$'\n'"$info"
grep -q "^ Depends: .*libstdc++" <<<"$info" && fail "Depends names libstdc++, linked statically"$'\n'"$info"

root=$scratch/root
dpkg-deb -x "$deb" "$root"
for file in usr/bin/pmx usr/lib/pmx/pmxd; do
  [[ -x $root/$file ]] || fail "$file is not in the package, or not executable"
done
for file in usr/lib/pmx/pmx-node-preload.js usr/lib/systemd/system/pmx@.service usr/share/doc/pmx/systemd.md \
  usr/share/bash-completion/completions/pmx usr/share/zsh/vendor-completions/_pmx \
  usr/share/man/man1/pmx.1.gz usr/share/man/man8/pmxd.8.gz \
  usr/share/doc/pmx/copyright usr/share/doc/pmx/README.md usr/share/doc/pmx/cli.md; do
  [[ -f $root/$file ]] || fail "$file is not in the package"
done
if ((has_runtime)); then
  [[ -x $root/usr/bin/pmx-runtime ]] || fail "pmx-runtime is built but not packaged"
  [[ -f $root/usr/share/man/man1/pmx-runtime.1.gz ]] || fail "pmx-runtime.1.gz is not in the package"
fi
gzip -t "$root/usr/share/man/man1/pmx.1.gz" || fail "pmx.1.gz is no gzip file"
bash -n "$root/usr/share/bash-completion/completions/pmx" || fail "the bash completion does not parse"

for binary in pmx pmxd; do
  path=$root/usr/bin/$binary
  [[ $binary == pmxd ]] && path=$root/usr/lib/pmx/pmxd
  out=$("$path" --version) || fail "$binary --version exited $?"
  [[ $out =~ ^$binary\ ${version//./\\.}\ \(commit\ ([0-9a-f]{4,}|unknown)\)$ ]] ||
    fail "$binary --version printed '$out', not '$binary $version (commit <hash>)'"
done

# An app under the unpacked pmx: the daemon it starts must be the unpacked /usr/lib/pmx/pmxd.
home=$scratch/home
pmx() { env -u PMXD PMX_HOME="$home" "$root/usr/bin/pmx" --no-color "$@"; }
pmx start "$sleeper" --name packaged >"$scratch/start.log" 2>&1 || { cat "$scratch/start.log"; fail "pmx start"; }
daemon_pid=$(cat "$home/pmxd.pid")
daemon_exe=$(readlink "/proc/$daemon_pid/exe")
[[ $daemon_exe == "$root/usr/lib/pmx/pmxd" ]] || fail "pmx started $daemon_exe, not the package's pmxd"
online() { pmx jlist | grep -q '"name":"packaged".*"status":"online"'; }
wait_for 10 online || fail "the app is not online: $(pmx jlist)"
pmx kill >/dev/null || fail "pmx kill"
wait_for 10 test ! -e "/proc/$daemon_pid" || fail "pmxd ($daemon_pid) still runs after pmx kill"
daemon_pid=""
echo "ok: $(basename "$deb"), $(dpkg-deb -c "$deb" | wc -l) entries, pmx and pmxd from the package ran an app"
