#!/usr/bin/env bash
# bench/cli_startup.sh [--runs N] [--apps N] [BASELINE_PMX]
#
# The CLI's start-up cost: `pmx ping` and `pmx jlist` with 10 idle apps, timed with
# `hyperfine -N` beside /bin/true (the cost of starting any process on this machine). Given a
# BASELINE_PMX (e.g. a copy of an older build/cli/pmx), it is timed in the same run against the
# same daemon, so before/after figures share the machine's load. Figures only: nothing asserts.
#
#   --runs N   runs per command (default 300, after 20 warm-up runs)
#   --apps N   idle apps running while jlist is timed (default 10)
#
# Environment: PMX (default <repo>/build/cli/pmx), PMXD (default the pmxd of the same build).
# The daemon runs in a fresh temporary PMX_HOME (never ~/.pmx) and is killed on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=300 APPS=10 BASELINE=
while (($#)); do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --apps) APPS=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "cli_startup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    *) BASELINE=$1 ;;
  esac
  shift
done

PMX=${PMX:-$ROOT/build/cli/pmx}
PMXD=${PMXD:-$(cd "$(dirname "$PMX")/.." 2>/dev/null && pwd)/daemon/pmxd}
die() { echo "cli_startup.sh: $*" >&2; exit 1; }
[[ -x $PMX ]] || die "no pmx at $PMX (set PMX=)"
[[ -x $PMXD ]] || die "no pmxd at $PMXD (set PMXD=)"
[[ -z $BASELINE || -x $BASELINE ]] || die "no baseline pmx at $BASELINE"
command -v hyperfine >/dev/null || die "hyperfine is needed (apt-get install -y hyperfine)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"

WORK=$(mktemp -d /tmp/pmx-cli-startup.XXXXXX)
export PMX_HOME=$WORK/home PMXD
mkdir -p "$PMX_HOME"
cleanup() {
  "$PMX" kill >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < APPS; i++)); do
  "$PMX" start /bin/sleep --name "idle$i" -f -- 100000 >/dev/null || die "start failed"
done
[[ $("$PMX" jlist | jq length) == "$APPS" ]] || die "expected $APPS apps in jlist"

commands=(/bin/true "$PMX ping" "$PMX jlist")
[[ -n $BASELINE ]] && commands+=("$BASELINE ping" "$BASELINE jlist")
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $APPS apps; $RUNS runs each"
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/times.json" "${commands[@]}" >/dev/null 2>&1 ||
  die "hyperfine failed"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-60s %10s %10s\n' command median mean
jq -r '.results[] | [.command, (.median * 1000 * 100 | round / 100), (.mean * 1000 * 100 | round / 100)] | @tsv' \
  "$WORK/times.json" | while IFS=$'\t' read -r cmd med mean; do
  printf '%-60s %7s ms %7s ms\n' "$cmd" "$med" "$mean"
done
