#!/usr/bin/env bash
# bench/cluster.sh [--quick] [--keep] [--no-pm2]
#
# Cluster mode figures for issue 9, pmx beside PM2's cluster mode in the same run, with wrk.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick   5 s of load per throughput case instead of 15
#   --keep    keep the work dir (apps, PMX_HOME, PM2_HOME, wrk outputs)
#   --no-pm2  measure pmx only (the PM2 column shows n/a)
#
# Cases, each with a Node hello-world server run as 2 instances:
#   1. wrk -c64 (keep-alive): requests/s and p99 latency
#   2. wrk -c64 during 5 reloads: socket errors and non-2xx, for the naive app (no handler of
#      its own) and for an app that closes its server on SIGINT
#   3. the same during 5 restarts
#   4. the baseline for the graceful app: one plain `node graceful.js`, no manager, under the
#      same load, stopped with SIGINT, 5 times: the errors the app causes by itself when it stops
#
# Environment: PMX, PMXD, PM2 as bench/run.sh; WRK (default: wrk in PATH; apt-get install wrk).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0 KEEP=0 WITH_PM2=1
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    --no-pm2) WITH_PM2=0 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then LOAD_S=5; else LOAD_S=15; fi
ROUNDS=5          # reloads / restarts per case
CONNS=64

PMX=${PMX:-$ROOT/build/cli/pmx}
PMXD=${PMXD:-$(cd "$(dirname "$PMX")/.." 2>/dev/null && pwd)/daemon/pmxd}
PM2=${PM2:-$(command -v pm2 || true)}
WRK=${WRK:-$(command -v wrk || true)}

die() { echo "cluster.sh: $*" >&2; exit 1; }
[[ -x $PMX ]] || die "no pmx at $PMX (build with: cmake --build $ROOT/build, or set PMX=)"
[[ -x $PMXD ]] || die "no pmxd at $PMXD (set PMXD=)"
[[ -n $WRK && -x $WRK ]] || die "wrk not found: apt-get install -y wrk"
command -v node >/dev/null || die "node is needed"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
if ((WITH_PM2)) && [[ -z $PM2 || ! -x $PM2 ]]; then die "pm2 not found: npm install -g pm2 (or --no-pm2)"; fi

WORK=$(mktemp -d /tmp/pmx-bench-cluster.XXXXXX)
export PMX_HOME=$WORK/pmx-home PM2_HOME=$WORK/pm2-home PMXD
mkdir -p "$PMX_HOME" "$PM2_HOME"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -e $PMX_HOME/pmxd.pid ]] && timeout 20 "$PMX" kill >/dev/null 2>&1
  [[ -e $PM2_HOME/pm2.pid ]] && timeout 30 "$PM2" kill >/dev/null 2>&1
  pkill -f "$WORK/" 2>/dev/null
  if ((KEEP)); then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$WORK/naive.js" <<'JS'
require('http').createServer((req, res) => res.end('hello world\n')).listen(process.env.PORT);
JS
cat >"$WORK/graceful.js" <<'JS'
const server = require('http').createServer((req, res) => res.end('hello world\n')).listen(process.env.PORT);
process.on('SIGINT', () => server.close(() => process.exit(0)));
JS

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
mgr() { local m=$1; shift; if [[ $m == pmx ]]; then "$PMX" "$@"; else "$PM2" "$@"; fi; }
wait_port() { local i; for i in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# wrk_summary FILE -> "<req/s> <p99 ms> <socket errors> <non-2xx> <requests>"
wrk_summary() {
  awk '
    /Requests\/sec/ { rps = $2 }
    /^ *99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); p99 = v / 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v); p99 = v } else if (v ~ /s$/) { sub(/s/, "", v); p99 = v * 1000 } }
    /Socket errors/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    /Non-2xx/ { non2xx = $5 }
    /requests in/ { reqs = $1 }
    END { printf "%s %s %d %d %s\n", rps == "" ? "-" : rps, p99 == "" ? "-" : p99, errs, non2xx, reqs == "" ? "-" : reqs }' "$1"
}

declare -A R
log() { printf '  [%s] %s\n' "$1" "$2" >&2; }

bench_manager() {
  local m=$1 app port out
  for app in naive graceful; do
    port=$(free_port)
    if [[ $m == pmx ]]; then
      PORT=$port "$PMX" start "$WORK/$app.js" --name "$app" -i 2 --kill-timeout 3000 >/dev/null 2>&1 || die "pmx start $app failed"
    else
      PORT=$port "$PM2" start "$WORK/$app.js" --name "$app" -i 2 --kill-timeout 3000 >/dev/null 2>&1 || die "pm2 start $app failed"
    fi
    wait_port "$port" || die "$m: $app does not answer on $port"
    if [[ $app == naive ]]; then
      out=$WORK/$m-throughput.txt
      "$WRK" -t2 -c$CONNS -d${LOAD_S}s --latency "http://127.0.0.1:$port/" >"$out" 2>&1
      read -r rps p99 errs non2xx reqs < <(wrk_summary "$out")
      R[rps:$m]=$rps R[p99:$m]=$p99
      log "$m" "throughput: $rps req/s, p99 $p99 ms, socket errors $errs"
    fi
    local verb
    for verb in reload restart; do
      out=$WORK/$m-$app-$verb.txt
      "$WRK" -t2 -c$CONNS -d$((ROUNDS * 3 + 4))s "http://127.0.0.1:$port/" >"$out" 2>&1 &
      local wrk_pid=$! i
      sleep 2
      for i in $(seq 1 $ROUNDS); do mgr "$m" "$verb" "$app" >/dev/null 2>&1; sleep 1; done
      wait "$wrk_pid"
      read -r rps p99 errs non2xx reqs < <(wrk_summary "$out")
      R[$verb-$app:$m]="$errs / $non2xx"
      R[$verb-$app-reqs:$m]=$reqs
      log "$m" "$app, $ROUNDS ${verb}s under load: socket errors $errs, non-2xx $non2xx, $reqs requests"
    done
    mgr "$m" delete "$app" >/dev/null 2>&1
  done
}

# Baseline: the graceful app alone under the same load, stopped with SIGINT, no manager.
bench_baseline() {
  local port out i total=0 reqs_total=0
  for i in $(seq 1 $ROUNDS); do
    port=$(free_port)
    PORT=$port node "$WORK/graceful.js" &
    local pid=$!
    wait_port "$port" || die "baseline: no answer on $port"
    out=$WORK/baseline-$i.txt
    "$WRK" -t2 -c$CONNS -d3s "http://127.0.0.1:$port/" >"$out" 2>&1 &
    local wrk_pid=$!
    sleep 1.5
    kill -INT "$pid"
    wait "$wrk_pid" "$pid" 2>/dev/null
    read -r rps p99 errs non2xx reqs < <(wrk_summary "$out")
    total=$((total + errs))
  done
  R[baseline]=$total
  log base "graceful app stopped $ROUNDS times under load outside any manager: $total socket errors"
}

echo "pmx cluster benchmarks, side by side with PM2 cluster mode"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "pmx:      $("$PMX" --version 2>/dev/null | head -n1), repo $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
((WITH_PM2)) && echo "PM2:      $(node -p "require('$(dirname "$(readlink -f "$PM2")")/../package.json').version" 2>/dev/null), node $(node --version)"
echo "load:     wrk -t2 -c$CONNS, ${LOAD_S}s per throughput case; $ROUNDS reloads/restarts per case; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

bench_manager pmx
if ((WITH_PM2)); then bench_manager pm2; fi
bench_baseline

col() { echo "${R[$1:$2]:-n/a}"; }
printf '\n| %-58s | %-14s | %-14s |\n' "metric (Node hello world, 2 instances)" pmx PM2
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})"
printf '| %-58s | %-14s | %-14s |\n' "1. req/s, wrk -c$CONNS keep-alive" "$(col rps pmx)" "$(col rps pm2)"
printf '| %-58s | %-14s | %-14s |\n' "1. p99 latency (ms)" "$(col p99 pmx)" "$(col p99 pm2)"
printf '| %-58s | %-14s | %-14s |\n' "2. $ROUNDS reloads, naive app: socket errors / non-2xx" "$(col reload-naive pmx)" "$(col reload-naive pm2)"
printf '| %-58s | %-14s | %-14s |\n' "2. $ROUNDS reloads, graceful app: socket errors / non-2xx" "$(col reload-graceful pmx)" "$(col reload-graceful pm2)"
printf '| %-58s | %-14s | %-14s |\n' "3. $ROUNDS restarts, naive app: socket errors / non-2xx" "$(col restart-naive pmx)" "$(col restart-naive pm2)"
printf '| %-58s | %-14s | %-14s |\n' "3. $ROUNDS restarts, graceful app: socket errors / non-2xx" "$(col restart-graceful pmx)" "$(col restart-graceful pm2)"
printf '| %-58s | %-14s | %-14s |\n' "4. graceful app stopped $ROUNDS times alone: socket errors" "${R[baseline]}" ""
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
