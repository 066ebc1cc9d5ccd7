# bench/lib.sh: what bench/run.sh, bench/logs.sh and bench/cluster.sh share. Sourced, not run.
#
# A script sources it first thing, then:
#   for a in "$@"; do bench_option "$a" || <its own options> || bad_option "$a"; done
#   check_tools                  # pmx, pmxd, jq, and pm2 unless --no-pm2
#   make_work pmx-bench-NAME     # WORK with PMX_HOME and PM2_HOME inside, and the exit trap
#   print_header "TITLE"         # date, machine, pmx and PM2 versions; the script adds its own lines
#
# Environment (the same for every script):
#   PMX   the pmx CLI   (default: <repo>/build/cli/pmx)
#   PMXD  the daemon    (default: the pmxd next to $PMX's build, <dir of pmx>/../daemon/pmxd)
#   PM2   the pm2 CLI   (default: pm2 in PATH; install with `npm install -g pm2`)
#   CC    C compiler for the fixtures (default: cc), for the scripts that build one
# shellcheck shell=bash disable=SC2034  # the settings here are for the scripts to read

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=${0##*/}   # the script's name, for its messages

PMX=${PMX:-$ROOT/build/cli/pmx}
PMXD=${PMXD:-$(cd "$(dirname "$PMX")/.." 2>/dev/null && pwd)/daemon/pmxd}
PM2=${PM2:-$(command -v pm2 || true)}
CC=${CC:-cc}

QUICK=0 KEEP=0 WITH_PM2=1
STARTED_PMX=0 STARTED_PM2=0   # set while a daemon may run, so the exit trap stops it
BG_PIDS=()                    # the script's own background processes, killed on exit
declare -A R                  # R[metric:column] = figure
DPID=                         # the daemon's pid, set by start_daemon

die() { echo "$SELF: $*" >&2; exit 1; }
log() { printf '  [%s] %s\n' "$1" "$2" >&2; }

# --help: the script's header comment, from its second line to the first line that is not one.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
bad_option() { echo "$SELF: unknown argument '$1' (try --help)" >&2; exit 2; }

# bench_option ARG: takes the options every script has; returns 1 for any other.
bench_option() {
  case "$1" in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    --no-pm2) WITH_PM2=0 ;;
    -h|--help) usage; exit 0 ;;
    *) return 1 ;;
  esac
}

check_tools() {
  [[ -x $PMX ]] || die "no pmx at $PMX (build with: cmake --build $ROOT/build, or set PMX=)"
  [[ -x $PMXD ]] || die "no pmxd at $PMXD (set PMXD=)"
  command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
  if ((WITH_PM2)) && [[ -z $PM2 || ! -x $PM2 ]]; then
    die "pm2 not found: npm install -g pm2 (or run with --no-pm2)"
  fi
}
check_cc() { command -v "$CC" >/dev/null || die "no C compiler '$CC'"; }

# make_work NAME: WORK=${TMPDIR:-/tmp}/NAME.XXXXXX holding both daemons' homes, so the real ~/.pmx and
# ~/.pm2 are never touched, and the trap that stops both daemons on exit, also on failure or
# Ctrl-C.
make_work() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || die "cannot make a temp dir"
  export PMX_HOME=$WORK/pmx-home PM2_HOME=$WORK/pm2-home PMXD
  mkdir -p "$PMX_HOME" "$PM2_HOME"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  # A daemon may have been spawned by any CLI call: look at the pid files, not only the flags.
  [[ -e $PMX_HOME/pmxd.pid ]] && STARTED_PMX=1
  [[ -e $PM2_HOME/pm2.pid ]] && STARTED_PM2=1
  ((STARTED_PMX)) && stop_daemon pmx
  ((STARTED_PM2)) && stop_daemon pm2
  # What still runs from the work dir (the apps of a daemon that had to be SIGKILLed, a
  # fixture): the path is this run's own mktemp dir, so nothing else matches.
  pkill -f "$WORK/" 2>/dev/null
  if ((KEEP)); then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}

# The manager's CLI: mgr pmx|pm2 ARGS...
mgr() { local m=$1; shift; if [[ $m == pmx ]]; then "$PMX" "$@"; else "$PM2" "$@"; fi; }

daemon_pid() {
  if [[ $1 == pmx ]]; then "$PMX" ping 2>/dev/null | jq -r .pid; else cat "$PM2_HOME/pm2.pid"; fi
}

# start_daemon pmx|pm2: starts the daemon (its ping does) and sets DPID.
start_daemon() {
  local m=$1
  log "$m" "starting the daemon"
  if [[ $m == pmx ]]; then STARTED_PMX=1; else STARTED_PM2=1; fi
  mgr "$m" ping >/dev/null 2>&1 || { echo "$SELF: $m ping failed" >&2; return 1; }
  DPID=$(daemon_pid "$m")
  if ! [[ $DPID =~ ^[0-9]+$ && -r /proc/$DPID/status ]]; then echo "$SELF: no daemon pid for $m" >&2; return 1; fi
}

# stop_daemon pmx|pm2 [PID]: its `kill` verb within a deadline, then SIGKILL if the daemon (PID,
# or the one in its pid file) is still there 1 s on.
stop_daemon() {
  local m=$1 p=${2:-} i
  if [[ $m == pmx ]]; then
    [[ -n $p ]] || p=$(cat "$PMX_HOME/pmxd.pid" 2>/dev/null || true)
    timeout 20 "$PMX" kill >/dev/null 2>&1; STARTED_PMX=0
  else
    [[ -n $p ]] || p=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null || true)
    timeout 30 "$PM2" kill >/dev/null 2>&1; STARTED_PM2=0
  fi
  [[ -n $p ]] || return 0
  for ((i = 0; i < 10; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
  return 0
}

# print_header TITLE: the lines every script's output opens with.
print_header() {
  local cpu_model git_rev pm2_version
  cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  # the checkout pmx was built in, which is not this one with PMX=/elsewhere/build/cli/pmx
  local tree; tree=$(dirname "$(readlink -f "$PMX")")
  git_rev=$(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo "?")
  [[ -n $(git -C "$tree" status --porcelain --untracked-files=no 2>/dev/null) ]] && git_rev+=" (+ uncommitted changes)"
  echo "$1"
  echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine:  $(nproc) CPUs, ${cpu_model:-unknown CPU}, kernel $(uname -r), $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}")"
  echo "pmx:      $("$PMX" --version 2>/dev/null | head -n1) at $PMX, pmxd $PMXD, repo $git_rev"
  if ((WITH_PM2)); then  # not `pm2 --version`: that spawns a daemon
    pm2_version=$(node -p "require('$(dirname "$(readlink -f "$PM2")")/../package.json').version" 2>/dev/null || echo "?")
    echo "PM2:      $pm2_version at $PM2, node $(node --version 2>/dev/null)"
  fi
}

# v KEY COLUMN [UNIT]: a figure for the table, or n/a.
v() { local x=${R[$1:$2]:-}; [[ -n $x ]] && echo "$x${3:+ $3}" || echo "n/a"; }
