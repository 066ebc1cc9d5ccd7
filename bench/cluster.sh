#!/usr/bin/env bash
# bench/cluster.sh [--quick] [--keep] [--no-pm2] [--spinners N] [--throughput-only]
#
# Cluster mode figures for issues 9 and 23, pmx beside PM2's cluster mode in the same run, with wrk.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick   3 slices of 5 s of load per manager for throughput instead of 5 of 10 s
#   --keep    keep the work dir (apps, PMX_HOME, PM2_HOME, wrk outputs)
#   --no-pm2  measure pmx only (the PM2 column shows n/a)
#   --spinners N  the CPU load of case 1's second pass: N `yes >/dev/null` on the servers' CPUs
#             (default 2; 0 skips that pass)
#   --throughput-only  case 1 only
#
# Cases, each with a Node hello-world server run as 2 instances:
#   1. wrk -c64 (keep-alive): requests/s and p99 latency, the median of slices that alternate
#      between the managers (both apps run at once, each warmed up by 2 s of unmeasured load),
#      so a change in the machine's other load falls on both alike. Two passes: as the machine
#      is, then with N spinning `yes` on the servers' CPUs (--spinners). Each slice also counts
#      the established connections of each instance (`ss -tnp` by pid, in the middle of the
#      slice) and the CPU time each instance used during it (/proc/<pid>/stat): the "spread".
#   2. wrk -c64 during 5 reloads: socket errors and non-2xx, for the naive app (no handler of
#      its own) and for an app that closes its server on SIGINT
#   3. the same during 5 restarts
#   4. the baseline for the graceful app: "the errors an app with its own shutdown handler
#      causes by itself when stopped under the same load outside any manager". One plain
#      `node graceful.js`, no manager, under the same wrk, sent SIGINT 5 times (SIGKILL after
#      3 s, the managers' --kill-timeout here). wrk is stopped as soon as the app has exited,
#      and the baseline counts read + timeout errors only: requests written on a connection
#      that then closed or reset under them, or got no reply within 2 s.
#      Not counted: connect and write errors. Once the port is closed every new connection is
#      refused, and wrk retries as fast as it can; wrk 4.1 connects without blocking, so on
#      loopback a refusal surfaces at the first write and is counted as a WRITE error, not a
#      connect error (checked: wrk on a server SIGKILLed 0.5 s before wrk's end reports
#      "connect 0, read 64, write 21248"). A write error also means the request never left
#      wrk. Their number says how long wrk ran on against a closed port, not what the app broke.
#
# Every error cell reads "c/r/w/t, n": wrk's socket errors by kind (connect, read, write,
# timeout) and the non-2xx responses, the same definition in every row. Compare a manager's
# row with the baseline by r+t. Its c and w come on top: a manager keeps the port open, so
# under it a refused or reset connection is its own failure, which the app alone has only
# because its port closed.
#
# CPUs: wrk and the servers share this machine's CPUs (2 here). wrk runs with one thread,
# pinned to the last CPU this script may use, and the script pins itself, and so both daemons,
# their apps and the baseline app, to the others; the same for pmx and PM2. Measured before
# choosing (2026-11-28, load average 6-9 from other work, 8 alternating pmx/PM2 pairs of 4 s
# slices a variant, the pmx/PM2 ratio of req/s per pair): wrk -t2 unpinned, the old setting,
# 0.61-1.43; wrk -t1 unpinned 0.30-1.42; wrk -t1 pinned alone 0.83-4.2; wrk -t1 pinned and the
# servers pinned to the other CPU 1.02-1.38, each manager's slices within about +-12 % of
# their mean in a pass. Unpinned, wrk and the servers trade CPUs with each other and with
# the other load, so a slice measures the scheduler as much as the manager. The price: both apps' 2 instances share one CPU, so the
# req/s are lower than with both CPUs, and say nothing of how the instances scale. The
# placement holds for every case, so reloads and restarts also run with the servers on one CPU.
#
# Environment: PMX, PMXD, PM2 as bench/lib.sh; WRK (default: wrk in PATH; apt-get install wrk);
# CLUSTER_PIN=0 for the old placement (wrk -t2, nothing pinned); PMX_NO_BALANCER=1 for pmx's
# instances sharing one socket (as before issue 23, and as without root).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SPINNERS=2 THROUGHPUT_ONLY=0
args=("$@")
for ((k = 0; k < ${#args[@]}; k++)); do
  a=${args[k]}
  if [[ $a == --throughput-only ]]; then THROUGHPUT_ONLY=1
  elif [[ $a == --spinners ]]; then SPINNERS=${args[k + 1]:-}; k=$((k + 1)); [[ $SPINNERS =~ ^[0-9]+$ ]] || bad_option "--spinners '$SPINNERS'"
  else bench_option "$a" || bad_option "$a"; fi
done
if ((QUICK)); then LOAD_S=5 SLICES=3; else LOAD_S=10 SLICES=5; fi
ROUNDS=5          # reloads / restarts per case
CONNS=64
WARMUP_S=2        # unmeasured wrk run on each fresh app before its throughput slices

WRK=${WRK:-$(command -v wrk || true)}
CLUSTER_PIN=${CLUSTER_PIN:-1}
check_tools
[[ -n $WRK && -x $WRK ]] || die "wrk not found: apt-get install -y wrk"
command -v node >/dev/null || die "node is needed"
make_work pmx-bench-cluster

cat >"$WORK/naive.js" <<'JS'
require('http').createServer((req, res) => res.end('hello world\n')).listen(process.env.PORT);
JS
cat >"$WORK/graceful.js" <<'JS'
const server = require('http').createServer((req, res) => res.end('hello world\n')).listen(process.env.PORT);
process.on('SIGINT', () => server.close(() => process.exit(0)));
JS

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { local i; for i in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# exited PID: true once PID is gone, or a zombie (a child of ours stays one until waited for)
exited() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0; s=${s##*) }; [[ ${s%% *} == Z ]]; }

# Where the load runs (see the header): wrk alone on the last CPU this script may use, this
# shell and all it starts (both daemons, their apps, the CLIs, the baseline app) on the others.
# pin_cpus sets WRK_CMD and PLACEMENT; it runs after the header, whose CPU count it would change.
pin_cpus() {
  local list cpus
  list=$(awk '/^Cpus_allowed_list/ { n = split($2, r, ","); for (i = 1; i <= n; i++) {
    if (split(r[i], b, "-") == 2) { for (c = b[1]; c <= b[2]; c++) printf "%d ", c } else printf "%d ", r[i] } }' /proc/self/status)
  read -ra cpus <<<"$list"
  if ((CLUSTER_PIN)) && ((${#cpus[@]} >= 2)) && command -v taskset >/dev/null; then
    local wrk_cpu=${cpus[-1]} server_cpus
    server_cpus=$(IFS=,; echo "${cpus[*]:0:${#cpus[@]}-1}")
    taskset -cp "$server_cpus" $$ >/dev/null || die "taskset -cp $server_cpus $$ failed"
    WRK_CMD=(taskset -c "$wrk_cpu" "$WRK" -t1)
    PLACEMENT="wrk -t1 alone on CPU $wrk_cpu; this script, both daemons and their apps on CPU $server_cpus"
  else
    WRK_CMD=("$WRK" -t2)
    PLACEMENT="unpinned: wrk -t2, the daemons and their apps share all CPUs"
    ((CLUSTER_PIN)) && PLACEMENT+=" (no second CPU or no taskset)"
  fi
}
# wrk_run OUT SECONDS PORT [wrk options]; wrk_start the same in the background, WRK_PID its pid
# (wrk's own: taskset execs it), so that a signal reaches wrk.
wrk_run() { "${WRK_CMD[@]}" -c"$CONNS" -d"$2"s "${@:4}" "http://127.0.0.1:$3/" >"$1" 2>&1; }
wrk_start() {
  "${WRK_CMD[@]}" -c"$CONNS" -d"$2"s "${@:4}" "http://127.0.0.1:$3/" >"$1" 2>&1 &
  WRK_PID=$!
  BG_PIDS+=("$WRK_PID")
}

# wrk_summary FILE -> "<req/s> <p99 ms> <connect> <read> <write> <timeout> <non-2xx> <requests>"
# The four are wrk's socket errors: connect (connect() itself failed), read (a connection closed
# or reset under a request, or a bad response), write (a write failed; on loopback also every
# refused connection, see the header), timeout (no reply within 2 s).
wrk_summary() {
  awk '
    /Requests\/sec/ { rps = $2 }
    /^ *99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); p99 = v / 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v); p99 = v } else if (v ~ /s$/) { sub(/s/, "", v); p99 = v * 1000 } }
    /Socket errors/ { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
    /Non-2xx/ { non2xx = $5 }
    /requests in/ { reqs = $1 }
    END { printf "%s %s %d %d %d %d %d %s\n", rps == "" ? "-" : rps, p99 == "" ? "-" : p99, c, r, w, t, non2xx, reqs == "" ? "-" : reqs }' "$1"
}
# errors C R W T NON2XX -> "c/r/w/t, non-2xx", the form of every error cell in the table
errors() { echo "$1/$2/$3/$4, $5"; }

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# start_app MANAGER APP PORT
start_app() {
  PORT=$3 mgr "$1" start "$WORK/$2.js" --name "$2" -i 2 --kill-timeout 3000 >/dev/null 2>&1 || die "$1 start $2 failed"
  wait_port "$3" || die "$1: $2 does not answer on $3"
}

declare -A NAIVE_PORT   # the naive app's port under each manager

# instance_pids MANAGER APP: the pids of APP's online instances, space-separated
instance_pids() { mgr "$1" jlist 2>/dev/null | jq -r --arg n "$2" '[.[] | select(.name == $n and .pid > 0) | .pid] | sort | join(" ")'; }
# cpu_ticks PID...: utime+stime of each, space-separated (0 for a pid that is gone)
cpu_ticks() { local p; for p in "$@"; do awk '{ printf "%d ", $14 + $15 }' "/proc/$p/stat" 2>/dev/null || printf '0 '; done; }
# conn_spread PORT PID...: established connections on PORT held by each PID, "a/b"
conn_spread() {
  local port=$1 p n out=; shift
  local lines; lines=$(ss -tnpH state established "( sport = :$port )" 2>/dev/null)
  for p in "$@"; do n=$(grep -c "pid=$p," <<<"$lines"); out+="${out:+/}$n"; done
  echo "$out"
}

# Case 1. The naive app under every manager at once, then wrk slices that alternate between
# them (pmx, PM2, PM2, pmx, ...), so a change in the machine's other load falls on both.
# bench_throughput COND: COND (quiet | busy) names the figures; the caller sets up the load.
bench_throughput() {
  local cond=$1 m i out rps p99 c r w t non2xx reqs order pids spread before after k cpu
  local -A rps_all p99_all spread_all cpu_all
  for ((i = 0; i < SLICES; i++)); do
    order=("${MANAGERS[@]}")
    ((i % 2)) && order=("${MANAGERS[@]:1}" "${MANAGERS[0]}")
    for m in "${order[@]}"; do
      out=$WORK/$m-throughput-$cond-$i.txt
      read -ra pids <<<"$(instance_pids "$m" naive)"
      read -ra before <<<"$(cpu_ticks "${pids[@]}")"
      wrk_start "$out" "$LOAD_S" "${NAIVE_PORT[$m]}" --latency
      sleep "$(awk -v s="$LOAD_S" 'BEGIN { print s / 2 }')"
      spread=$(conn_spread "${NAIVE_PORT[$m]}" "${pids[@]}")
      wait "$WRK_PID"
      BG_PIDS=("${SPIN_PIDS[@]}")
      read -ra after <<<"$(cpu_ticks "${pids[@]}")"
      cpu=
      for k in "${!pids[@]}"; do cpu+="${cpu:+/}$(( (after[k] - before[k]) * 100 / $(getconf CLK_TCK) / LOAD_S ))"; done
      read -r rps p99 c r w t non2xx reqs < <(wrk_summary "$out")
      rps_all[$m]+="$rps " p99_all[$m]+="$p99 " spread_all[$m]+="$spread " cpu_all[$m]+="$cpu "
      log "$m" "$cond slice $((i + 1))/$SLICES: $rps req/s, p99 $p99 ms, connections per instance $spread, CPU % per instance $cpu, errors $(errors "$c" "$r" "$w" "$t" "$non2xx")"
    done
  done
  for m in "${MANAGERS[@]}"; do
    # shellcheck disable=SC2086  # the lists are split on purpose
    R[rps:$m:$cond]=$(median ${rps_all[$m]}) R[p99:$m:$cond]=$(median ${p99_all[$m]})
    R[rps_all:$m:$cond]=${rps_all[$m]% } R[p99_all:$m:$cond]=${p99_all[$m]% }
    R[spread:$m:$cond]=${spread_all[$m]% } R[cpu:$m:$cond]=${cpu_all[$m]% }
  done
}

SPIN_PIDS=()
# start_spinners N: N busy loops on this script's CPUs (the servers'), in BG_PIDS too
start_spinners() {
  local k
  for ((k = 0; k < $1; k++)); do yes >/dev/null & SPIN_PIDS+=($!); done
  BG_PIDS+=("${SPIN_PIDS[@]}")
}
stop_spinners() { local p; for p in "${SPIN_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; SPIN_PIDS=(); BG_PIDS=(); }

bench_throughput_both() {
  local m
  for m in "${MANAGERS[@]}"; do
    NAIVE_PORT[$m]=$(free_port)
    start_app "$m" naive "${NAIVE_PORT[$m]}"
    wrk_run /dev/null "$WARMUP_S" "${NAIVE_PORT[$m]}"   # JIT warm-up, not measured
  done
  bench_throughput quiet
  if ((SPINNERS > 0)); then
    start_spinners "$SPINNERS"
    bench_throughput busy
    stop_spinners
  fi
}

# Cases 2 and 3 for one app under one manager: wrk runs through ROUNDS reloads, then through
# ROUNDS restarts, each VERB one second apart.
bench_rounds() {
  local m=$1 app=$2 port=$3 verb out i rps p99 c r w t non2xx reqs
  for verb in reload restart; do
    out=$WORK/$m-$app-$verb.txt
    wrk_start "$out" $((ROUNDS * 3 + 4)) "$port"
    sleep 2
    for i in $(seq 1 $ROUNDS); do mgr "$m" "$verb" "$app" >/dev/null 2>&1; sleep 1; done
    wait "$WRK_PID"
    BG_PIDS=()
    read -r rps p99 c r w t non2xx reqs < <(wrk_summary "$out")
    R[$verb-$app:$m]=$(errors "$c" "$r" "$w" "$t" "$non2xx")
    log "$m" "$app, $ROUNDS ${verb}s under load: errors c/r/w/t $c/$r/$w/$t, non-2xx $non2xx, $reqs requests"
  done
}

# Case 4. The graceful app alone, no manager, under the same load, stopped with SIGINT ROUNDS
# times; wrk stopped (SIGINT: it prints its summary) as soon as the app has exited. The baseline
# is read + timeout: see the header for why connect and write errors are not counted.
bench_baseline() {
  local i port pid out deadline rps p99 c r w t non2xx reqs
  local sc=0 sr=0 sw=0 st=0 sn=0 killed=0
  for i in $(seq 1 $ROUNDS); do
    port=$(free_port)
    PORT=$port node "$WORK/graceful.js" &
    pid=$!
    BG_PIDS=("$pid")
    wait_port "$port" || die "baseline: no answer on $port"
    out=$WORK/baseline-$i.txt
    wrk_start "$out" 60 "$port"   # 60 s is only a bound: stopped below
    sleep 1.5
    kill -INT "$pid"
    # The app's own shutdown, within the managers' --kill-timeout (3 s); then SIGKILL, as they do.
    deadline=$(( ${EPOCHREALTIME/./} + 3000000 ))
    until exited "$pid"; do
      if (( ${EPOCHREALTIME/./} > deadline )); then kill -9 "$pid" 2>/dev/null; killed=$((killed + 1)); break; fi
      sleep 0.01
    done
    wait "$pid" 2>/dev/null
    kill -INT "$WRK_PID"   # wrk stops and prints its summary
    wait "$WRK_PID"
    BG_PIDS=()
    read -r rps p99 c r w t non2xx reqs < <(wrk_summary "$out")
    sc=$((sc + c)) sr=$((sr + r)) sw=$((sw + w)) st=$((st + t)) sn=$((sn + non2xx))
  done
  R[baseline]=$((sr + st))
  R[baseline_all]=$(errors "$sc" "$sr" "$sw" "$st" "$sn")
  R[baseline_killed]=$killed
  log base "graceful app stopped $ROUNDS times under load outside any manager: read+timeout ${R[baseline]} (c/r/w/t $sc/$sr/$sw/$st, non-2xx $sn, SIGKILLed after 3 s: $killed)"
}

MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)

print_header "pmx cluster benchmarks, side by side with PM2 cluster mode"
echo "load:     wrk -c$CONNS, $SLICES slices of ${LOAD_S}s per manager for throughput, alternating; $ROUNDS reloads/restarts per case"
pin_cpus
echo "cpus:     $PLACEMENT"
echo "          load average $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start"
echo "busy:     case 1 again with $SPINNERS spinning \`yes\` on the servers' CPUs"
if [[ -n ${PMX_NO_BALANCER:-} ]]; then echo "pmx:      PMX_NO_BALANCER set: the instances share one socket (the behaviour before issue 23)"
elif ((EUID == 0)); then echo "pmx:      a socket per instance, connections handed out in turn (root: the eBPF balancer)"
else echo "pmx:      not root: no eBPF balancer, the instances share one socket"; fi
echo

bench_throughput_both
((THROUGHPUT_ONLY)) && MANAGERS_ROUNDS=() || MANAGERS_ROUNDS=("${MANAGERS[@]}")
for m in "${MANAGERS_ROUNDS[@]}"; do
  bench_rounds "$m" naive "${NAIVE_PORT[$m]}"
  mgr "$m" delete naive >/dev/null 2>&1
done
for m in "${MANAGERS_ROUNDS[@]}"; do
  port=$(free_port)
  start_app "$m" graceful "$port"
  bench_rounds "$m" graceful "$port"
  mgr "$m" delete graceful >/dev/null 2>&1
done
((THROUGHPUT_ONLY)) || bench_baseline

col() { echo "${R[$1:$2]:-n/a}"; }
row() { printf '| %-62s | %-16s | %-16s |\n' "$1" "$2" "$3"; }
echo
row "metric (Node hello world, 2 instances)" pmx PM2
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..64})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..18})"
for cond in quiet busy; do
  [[ $cond == busy ]] && ((SPINNERS == 0)) && continue
  row "1. $cond: req/s, wrk -c$CONNS keep-alive: median of $SLICES slices" "$(col rps pmx:$cond)" "$(col rps pm2:$cond)"
  row "1. $cond: p99 latency (ms): median of $SLICES slices" "$(col p99 pmx:$cond)" "$(col p99 pm2:$cond)"
done
row "2. $ROUNDS reloads, naive app: errors c/r/w/t, non-2xx" "$(col reload-naive pmx)" "$(col reload-naive pm2)"
row "2. $ROUNDS reloads, graceful app: errors c/r/w/t, non-2xx" "$(col reload-graceful pmx)" "$(col reload-graceful pm2)"
row "3. $ROUNDS restarts, naive app: errors c/r/w/t, non-2xx" "$(col restart-naive pmx)" "$(col restart-naive pm2)"
row "3. $ROUNDS restarts, graceful app: errors c/r/w/t, non-2xx" "$(col restart-graceful pmx)" "$(col restart-graceful pm2)"
row "4. graceful app stopped $ROUNDS times alone: read+timeout errors" "${R[baseline]:-n/a}" ""
row "4. the same: errors c/r/w/t, non-2xx (only r+t counted)" "${R[baseline_all]:-n/a}" ""
echo
echo "errors c/r/w/t: wrk's socket errors, connect/read/write/timeout (a refused connection counts as"
echo "a write error). The baseline (4) is r+t; compare a manager's row with it by r+t, with its c and w"
echo "on top: under a manager the port stays open, so a refused or reset connection is the manager's."
for cond in quiet busy; do
  [[ $cond == busy ]] && ((SPINNERS == 0)) && continue
  echo "1. $cond, each slice: req/s pmx ${R[rps_all:pmx:$cond]:-n/a}; PM2 ${R[rps_all:pm2:$cond]:-n/a}"
  echo "   p99 ms pmx ${R[p99_all:pmx:$cond]:-n/a}; PM2 ${R[p99_all:pm2:$cond]:-n/a}"
  echo "   connections per instance pmx ${R[spread:pmx:$cond]:-n/a}; PM2 ${R[spread:pm2:$cond]:-n/a}"
  echo "   CPU % per instance pmx ${R[cpu:pmx:$cond]:-n/a}; PM2 ${R[cpu:pm2:$cond]:-n/a}"
done
((${R[baseline_killed]:-0})) && echo "4. the app did not exit within 3 s of SIGINT and was SIGKILLed ${R[baseline_killed]} times"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
