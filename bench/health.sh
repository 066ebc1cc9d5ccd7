#!/usr/bin/env bash
# bench/health.sh [--apps N] [--seconds S] [--kind http|tcp]
#
# The cost of health checks to pmxd: its CPU time over S seconds with N idle apps and no
# check, then with the same N apps each probed every second (http: GET / of one local Python
# http.server; tcp: a connect to it). Figures only: nothing asserts.
#
#   --apps N      apps (default 200)
#   --seconds S   how long each phase is measured (default 20)
#   --kind K      http (default) or tcp
#
# Environment: PMX (default <repo>/build/cli/pmx), PMXD (default the pmxd of the same build).
# The daemon runs in a fresh temporary PMX_HOME (never ~/.pmx) and is killed on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APPS=200 SECONDS_=20 KIND=http
while (($#)); do
  case "$1" in
    --apps) APPS=$2; shift ;;
    --seconds) SECONDS_=$2; shift ;;
    --kind) KIND=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "health.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

PMX=${PMX:-$ROOT/build/cli/pmx}
PMXD=${PMXD:-$(cd "$(dirname "$PMX")/.." 2>/dev/null && pwd)/daemon/pmxd}
die() { echo "health.sh: $*" >&2; exit 1; }
[[ -x $PMX ]] || die "no pmx at $PMX (set PMX=)"
[[ -x $PMXD ]] || die "no pmxd at $PMXD (set PMXD=)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
command -v python3 >/dev/null || die "python3 is needed"

WORK=$(mktemp -d /tmp/pmx-bench-health.XXXXXX)
export PMX_HOME=$WORK/home PMXD
mkdir -p "$PMX_HOME"
SERVER_PID=
cleanup() {
  "$PMX" kill >/dev/null 2>&1
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
SERVER_PID=$!

# apps CHECK: an ecosystem file of APPS sleepers, each with the check given (JSON, or null).
apps() {
  jq -n --argjson n "$APPS" --argjson check "$1" \
    '{apps: [range($n) | {name: "idle\(.)", script: "/bin/sleep", args: ["100000"], health_check: $check}]}' \
    >"$WORK/eco.json"
  "$PMX" start "$WORK/eco.json" >/dev/null || die "start failed"
}
# cpu_ms: pmxd's user+system time so far, in ms.
cpu_ms() {
  local pid ticks
  pid=$(cat "$PMX_HOME/pmxd.pid")
  ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  echo $((ticks * 1000 / $(getconf CLK_TCK)))
}
measure() {
  local before after
  before=$(cpu_ms)
  sleep "$SECONDS_"
  after=$(cpu_ms)
  awk -v ms=$((after - before)) -v s="$SECONDS_" 'BEGIN { printf "%.2f", ms / (s * 10) }'
}

"$PMX" ping >/dev/null || die "pmxd did not start"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $APPS apps; $SECONDS_ s per phase; $KIND probes"
apps null
idle=$(measure)
"$PMX" delete all >/dev/null
if [[ $KIND == tcp ]]; then check="{\"tcp\": \"127.0.0.1:$PORT\", \"interval\": \"1s\", \"timeout\": \"1s\"}"
else check="{\"http\": \"http://127.0.0.1:$PORT/\", \"interval\": \"1s\", \"timeout\": \"1s\"}"; fi
apps "$check"
for _ in $(seq 60); do
  healthy=$("$PMX" jlist | jq '[.[] | select(.pm2_env.health == "healthy")] | length')
  ((healthy == APPS)) && break
  sleep 1
done
probed=$(measure)
healthy=$("$PMX" jlist | jq '[.[] | select(.pm2_env.health == "healthy")] | length')
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'pmxd CPU, %d idle apps, no check:            %6s %% of a core\n' "$APPS" "$idle"
printf 'pmxd CPU, %d apps probed every 1 s (%s): %6s %% of a core (%d healthy)\n' "$APPS" "$KIND" "$probed" "$healthy"
