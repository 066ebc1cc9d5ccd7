#!/usr/bin/env bash
# bench/metrics.sh [--quick] [--keep] [--no-pm2] [--apps N]
#
# What pmx's metrics cost, measured in one run on this machine, PM2 beside it:
#  - a Node hello server under wrk: req/s with the metrics preload (the default) and with
#    --no-pmx, under pmx, and under PM2 with its default and with --no-pmx; and the server's own
#    CPU time a request in each;
#  - a Prometheus scrape of N apps (default 100): pmxd's CPU time per GET /metrics;
#  - pmxd's RSS with N apps, each with its history ring allocated.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick   5 s wrk runs, two rounds, 50 scrapes (default: 10 s runs, 4 rounds in ABBA order, 300 scrapes)
#   --keep    keep the work dir and print its path
#   --no-pm2  measure pmx only
#   --apps N  apps for the scrape and RSS figures (idle /bin/sleep apps)
#
# Environment: PMX, PMXD, PM2 as in bench/lib.sh; wrk and curl are needed.
# Both daemons run with a home in a fresh temp dir (PMX_HOME, PM2_HOME); the real ~/.pmx and
# ~/.pm2 are never touched. Both daemons are killed on exit, also on failure or Ctrl-C.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APPS=100
while (($#)); do
  bench_option "$1" || case "$1" in
    --apps) APPS=$2; shift ;;
    *) bad_option "$1" ;;
  esac
  shift
done
check_tools
command -v wrk >/dev/null || die "wrk is needed (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is needed (apt-get install -y curl)"
command -v node >/dev/null || die "node is needed"
make_work pmx-bench-metrics

DURATION=10 ROUNDS=4 SCRAPES=300
((QUICK)) && DURATION=5 ROUNDS=2 SCRAPES=50

SERVER=$WORK/hello.js
cat > "$SERVER" <<'JS'
require('http').createServer((q, r) => r.end('hello\n')).listen(Number(process.env.PORT));
JS

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { local i; for ((i = 0; i < 100; i++)); do curl -sf "http://127.0.0.1:$1/" >/dev/null && return 0; sleep 0.1; done; return 1; }
wrk_run() { wrk -t1 -c32 -d"${DURATION}s" "http://127.0.0.1:$1/" 2>/dev/null; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
listener_pid() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- overhead under wrk
# One server at a time (2 cores: the load generator needs one), configurations interleaved
# per round and their order reversed every other round (ABBA), so that the machine's drift and
# any effect of going first hit them alike. Two figures per run: req/s, and the server's own
# CPU time per request (utime+stime of its process over the run / requests served), which
# other work on the machine moves much less than req/s.
declare -A SUM N CPU_SUM
run_config() {  # run_config LABEL MANAGER [flags...]
  local label=$1 m=$2; shift 2
  local port; port=$(free_port)
  PORT=$port mgr "$m" start "$SERVER" --name "hello-$label" "$@" >/dev/null 2>&1 || { log "$m" "start failed ($label)"; return; }
  if wait_http "$port"; then
    local pid t0 t1 out r requests us
    pid=$(listener_pid "$port")
    t0=$(ticks "$pid")
    out=$(wrk_run "$port")
    t1=$(ticks "$pid")
    r=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    us=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${requests:-0}" 'BEGIN {if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print 0}')
    log "$m" "$label: $r req/s, $us us of the server's CPU a request"
    SUM[$label]=$(awk -v a="${SUM[$label]:-0}" -v b="${r:-0}" 'BEGIN {print a + b}')
    CPU_SUM[$label]=$(awk -v a="${CPU_SUM[$label]:-0}" -v b="$us" 'BEGIN {print a + b}')
    N[$label]=$((${N[$label]:-0} + 1))
  else
    log "$m" "$label: the server did not answer"
  fi
  mgr "$m" delete "hello-$label" >/dev/null 2>&1
}
start_daemon pmx || die "pmxd did not start"
if ((WITH_PM2)); then start_daemon pm2 || die "PM2 did not start"; fi
configs=("pmx-metrics pmx" "pmx-no-pmx pmx --no-pmx")
((WITH_PM2)) && configs+=("pm2-default pm2" "pm2-no-pmx pm2 --no-pmx")
for ((round = 0; round < ROUNDS; round++)); do
  order=("${configs[@]}")
  if ((round % 2)); then order=(); for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[i]}"); done; fi
  for c in "${order[@]}"; do
    # shellcheck disable=SC2086
    run_config $c
  done
done
avg() { [[ -n ${N[$1]:-} ]] && awk -v s="${SUM[$1]}" -v n="${N[$1]}" 'BEGIN {printf "%.0f", s / n}' || echo n/a; }
avg_cpu() { [[ -n ${N[$1]:-} ]] && awk -v s="${CPU_SUM[$1]}" -v n="${N[$1]}" 'BEGIN {printf "%.2f", s / n}' || echo n/a; }
loss() {  # loss WITH WITHOUT: the % of req/s lost with metrics
  local a b; a=$(avg "$1") b=$(avg "$2")
  [[ $a == n/a || $b == n/a ]] && { echo n/a; return; }
  awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1f %%", (b - a) / b * 100}'
}
cpu_cost() {  # cpu_cost WITH WITHOUT: the % more CPU a request takes with metrics
  local a b; a=$(avg_cpu "$1") b=$(avg_cpu "$2")
  [[ $a == n/a || $b == n/a ]] && { echo n/a; return; }
  awk -v a="$a" -v b="$b" 'BEGIN {if (b > 0) printf "%.1f %%", (a - b) / b * 100; else print "n/a"}'
}
if ((WITH_PM2)); then stop_daemon pm2; fi

# ---------------------------------------------------------------- scrape and RSS at N apps
for ((i = 0; i < APPS; i++)); do "$PMX" start /bin/sleep --name "idle$i" -f -- 100000 >/dev/null || die "start failed"; done
MPORT=$(free_port)
printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$MPORT" > "$PMX_HOME/pmx.yaml"
"$PMX" reloadLogs >/dev/null || die "reloadLogs failed"
DPID=$(daemon_pid pmx)
# Every instance read once (the sampler reads each one every fifth second): each ring allocated.
for ((i = 0; i < 100; i++)); do
  n=$("$PMX" ping >/dev/null; curl -s "http://127.0.0.1:$MPORT/metrics" | grep -c '^pmx_instance_memory_bytes{.*} [1-9]')
  ((n >= APPS)) && break
  sleep 0.2
done
BYTES=$(curl -s "http://127.0.0.1:$MPORT/metrics" | wc -c)
t0=$(ticks "$DPID")
for ((i = 0; i < SCRAPES; i++)); do curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics"; done
t1=$(ticks "$DPID")
SCRAPE_MS=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$SCRAPES" 'BEGIN {printf "%.2f", d / hz * 1000 / n}')
RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")

print_header "pmx metrics: overhead, scrape and memory"
echo "wrk:      -t1 -c32, ${DURATION} s a run, $ROUNDS round(s), Node hello server in fork mode"
echo
printf '%-44s %14s %14s\n' "figure" "pmx" "PM2"
printf '%-44s %14s %14s\n' "req/s with metrics (default)" "$(avg pmx-metrics)" "$(avg pm2-default)"
printf '%-44s %14s %14s\n' "req/s with --no-pmx" "$(avg pmx-no-pmx)" "$(avg pm2-no-pmx)"
printf '%-44s %14s %14s\n' "req/s lost to metrics" "$(loss pmx-metrics pmx-no-pmx)" "$(loss pm2-default pm2-no-pmx)"
printf '%-44s %14s %14s\n' "server CPU a request, metrics (us)" "$(avg_cpu pmx-metrics)" "$(avg_cpu pm2-default)"
printf '%-44s %14s %14s\n' "server CPU a request, --no-pmx (us)" "$(avg_cpu pmx-no-pmx)" "$(avg_cpu pm2-no-pmx)"
printf '%-44s %14s %14s\n' "CPU a request added by metrics" "$(cpu_cost pmx-metrics pmx-no-pmx)" "$(cpu_cost pm2-default pm2-no-pmx)"
printf '%-44s %14s %14s\n' "pmxd CPU per scrape, $APPS apps (ms)" "$SCRAPE_MS" "n/a"
printf '%-44s %14s %14s\n' "exposition size, $APPS apps (bytes)" "$BYTES" "n/a"
printf '%-44s %14s %14s\n' "pmxd RSS, $APPS apps with history (KiB)" "$RSS_KB" "n/a"
