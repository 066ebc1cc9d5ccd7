#!/usr/bin/env bash
# bench/run.sh [--quick] [--keep] [--no-pm2]
#
# Side-by-side figures for pmx and PM2, measured in the same run on this machine.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick   10 s CPU window instead of 60 s, 10 kills instead of 30, 20 jlist runs instead of 50
#   --keep    keep the work dir (fixture, PMX_HOME, PM2_HOME with their logs) and print its path
#   --no-pm2  measure pmx only (the PM2 column shows n/a)
#
# Environment:
#   PMX   the pmx CLI   (default: <repo>/build/cli/pmx)
#   PMXD  the daemon    (default: the pmxd next to $PMX's build, <dir of pmx>/../daemon/pmxd)
#   PM2   the pm2 CLI   (default: pm2 in PATH; install with `npm install -g pm2`)
#   CC    C compiler for the fixture (default: cc)
#
# Both daemons run with a home in a fresh temp dir (PMX_HOME, PM2_HOME); the real ~/.pmx and
# ~/.pm2 are never touched. Both daemons are killed on exit, also on failure or Ctrl-C.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for a in "$@"; do bench_option "$a" || bad_option "$a"; done

if ((QUICK)); then CPU_WINDOW=10 KILLS=10 JLIST_RUNS=20; else CPU_WINDOW=60 KILLS=30 JLIST_RUNS=50; fi
APPS_SMALL=10     # apps running while jlist is timed
APPS_BIG=100      # apps for RSS, start-all and idle CPU
KILL_GAP=1.1      # s between kills: longer than min_uptime (1 s), so no restart counts as unstable

check_tools
check_cc
HYPERFINE=$(command -v hyperfine || true)
((BASH_VERSINFO[0] >= 5)) || die "bash 5 is needed (EPOCHREALTIME)"
make_work pmx-bench

# ---------------------------------------------------------------- helpers
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }      # CLOCK_REALTIME in µs, no fork
ms_since() { echo "$(( $(now_us) - $1 ))" | awk '{printf "%.1f", $1/1000}'; }

# Number of apps listed (all, or with status online).
count_all() { mgr "$1" jlist 2>/dev/null | jq 'length' 2>/dev/null || echo -1; }
count_online() {
  mgr "$1" jlist 2>/dev/null | jq '[.[] | select(.pm2_env.status == "online")] | length' 2>/dev/null || echo -1
}
wait_count() {  # wait_count M online|all N timeout_s
  local m=$1 what=$2 n=$3 deadline=$(( $(now_us) + $4 * 1000000 )) c
  while :; do
    if [[ $what == online ]]; then c=$(count_online "$m"); else c=$(count_all "$m"); fi
    [[ $c == "$n" ]] && return 0
    (( $(now_us) > deadline )) && { echo "run.sh: $m: waited $4 s for $n $what apps, have $c" >&2; return 1; }
    sleep 0.05
  done
}

# stats FILE (one number a line) -> "median p90 min max n"; p90 is nearest-rank.
stats() {
  sort -g "$1" | awk '{v[NR]=$1} END {
    if (NR == 0) { print "nan nan nan nan 0"; exit }
    med = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    r = int(0.9 * NR); if (r < 0.9 * NR) r++; if (r < 1) r = 1
    printf "%.3f %.3f %.3f %.3f %d\n", med, v[r], v[1], v[NR], NR }'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() {  # utime+stime of one process (not its children), in clock ticks
  local s; s=$(<"/proc/$1/stat"); s=${s##*) }   # comm may hold spaces: cut after the last ')'
  local f; read -ra f <<<"$s"; echo $(( f[11] + f[12] ))
}
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- fixture
"$CC" -O2 -o "$WORK/idle_app" "$ROOT/bench/idle_app.c" || die "cannot build the fixture"
APP=$WORK/idle_app

# ---------------------------------------------------------------- header
print_header "pmx benchmarks, side by side with PM2"
if [[ -n $HYPERFINE ]]; then timer="hyperfine $("$HYPERFINE" --version | awk '{print $2}')"; else timer="a bash EPOCHREALTIME loop"; fi
echo "timing:   $timer for jlist; mode: $( ((QUICK)) && echo quick || echo full)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start; other work on the machine skews every figure"
echo

# ---------------------------------------------------------------- one manager
bench_manager() {
  local m=$1 dpid
  start_daemon "$m" || return 1
  dpid=$DPID
  log "$m" "daemon pid $dpid"

  # a. jlist with 10 apps --------------------------------------------------
  mgr "$m" start "$APP" --name jl -f -i "$APPS_SMALL" >/dev/null 2>&1 || { echo "run.sh: $m start -i $APPS_SMALL failed" >&2; return 1; }
  wait_count "$m" online "$APPS_SMALL" 30 || return 1
  sleep 2
  R[rss10:$m]=$(awk -v k="$(rss_kib "$dpid")" 'BEGIN {printf "%.1f", k/1024}')
  log "$m" "timing jlist with $APPS_SMALL apps, $JLIST_RUNS runs"
  local times=$WORK/$m-jlist.ms
  local cli; if [[ $m == pmx ]]; then cli=$PMX; else cli=$PM2; fi
  if [[ -n $HYPERFINE ]]; then
    "$HYPERFINE" -N --warmup 5 --runs "$JLIST_RUNS" --style none \
      --export-json "$WORK/$m-jlist.json" "$cli jlist" >/dev/null 2>&1 || { echo "run.sh: hyperfine failed" >&2; return 1; }
    jq -r '.results[0].times[] * 1000' "$WORK/$m-jlist.json" >"$times"
  else
    : >"$times"
    local i t0; for ((i = 0; i < 5; i++)); do "$cli" jlist >/dev/null 2>&1; done
    for ((i = 0; i < JLIST_RUNS; i++)); do
      t0=$(now_us); "$cli" jlist >/dev/null 2>&1; echo "$(( $(now_us) - t0 ))" | awk '{print $1/1000}' >>"$times"
    done
  fi
  read -r "R[jl_med:$m]" "R[jl_p90:$m]" _ _ _ < <(stats "$times")
  # the floor under any CLI call: process start + one round trip that does no work
  if [[ -n $HYPERFINE ]]; then
    "$HYPERFINE" -N --warmup 3 --runs 20 --style none --export-json "$WORK/$m-ping.json" "$cli ping" >/dev/null 2>&1 \
      && R[ping_med:$m]=$(jq -r '.results[0].median * 1000 | . * 1000 | round / 1000' "$WORK/$m-ping.json")
  fi

  # d. kill -9 -> replacement exec ----------------------------------------
  log "$m" "kill -9 -> replacement exec, $KILLS kills, ${KILL_GAP} s apart"
  local stamps=$WORK/$m-stamps lat=$WORK/$m-kill.us
  : >"$stamps"; : >"$lat"
  BENCH_STAMP_FILE=$stamps mgr "$m" start "$APP" --name stamp -f --max-restarts 1000 --restart-delay 0 >/dev/null 2>&1 \
    || { echo "run.sh: $m start stamp failed" >&2; return 1; }
  local k pid lines t0 ns deadline listed timeouts=0
  for ((k = 0; k <= KILLS; k++)); do
    # the current instance: last stamp line, and listed by the manager
    deadline=$(( $(now_us) + 10000000 ))
    while :; do
      pid=$(tail -n1 "$stamps" 2>/dev/null | awk '{print $2}')
      listed=$(mgr "$m" pid stamp 2>/dev/null | tr -d '[:space:]')
      [[ -n $pid && $listed == "$pid" ]] && break
      (( $(now_us) > deadline )) && { echo "run.sh: $m: instance not listed (stamp pid '$pid', listed '$listed')" >&2; return 1; }
      sleep 0.02
    done
    ((k == KILLS)) && break
    sleep "$KILL_GAP"
    lines=$(wc -l <"$stamps")
    t0=$EPOCHREALTIME; kill -9 "$pid"
    t0=${t0/./}
    deadline=$(( t0 + 5000000 ))
    # Stay off the CPUs while the daemon works (2 cores here): the replacement stamps its own
    # exec time, so when we look does not change the figure.
    sleep 0.2
    while (( $(wc -l <"$stamps") <= lines )); do
      (( $(now_us) > deadline )) && break
      sleep 0.02
    done
    if (( $(wc -l <"$stamps") <= lines )); then ((timeouts++)); log "$m" "kill $k: no replacement within 5 s"; continue; fi
    read -r ns _ < <(tail -n1 "$stamps")
    echo $(( ns / 1000 - t0 )) $(( ns % 1000 )) | awk '{printf "%.3f\n", ($1 * 1000 + $2) / 1e6}' >>"$lat"
  done
  read -r "R[kill_med:$m]" "R[kill_p90:$m]" "R[kill_min:$m]" "R[kill_max:$m]" "R[kill_n:$m]" < <(stats "$lat")
  R[kill_to:$m]=$timeouts
  R[kill_state:$m]=$(mgr "$m" jlist 2>/dev/null | jq -r '[.[] | select(.name == "stamp")][0] | "\(.pm2_env.status), restart_time \(.pm2_env.restart_time)"')

  # c. 100 apps by one command -> all online -------------------------------
  mgr "$m" delete all >/dev/null 2>&1
  wait_count "$m" all 0 60 || return 1
  sleep 2
  log "$m" "start $APPS_BIG apps with one command"
  local t_start t_ret
  t_start=$(now_us)
  mgr "$m" start "$APP" --name hundred -f -i "$APPS_BIG" >/dev/null 2>&1 || { echo "run.sh: $m start -i $APPS_BIG failed" >&2; return 1; }
  t_ret=$(ms_since "$t_start")
  wait_count "$m" online "$APPS_BIG" 300 || return 1
  R[start100:$m]=$(ms_since "$t_start")
  R[start100_ret:$m]=$t_ret

  # b. daemon RSS with 100 idle apps ---------------------------------------
  sleep 5
  R[rss100:$m]=$(awk -v k="$(rss_kib "$dpid")" 'BEGIN {printf "%.1f", k/1024}')

  # e. daemon CPU over the idle window --------------------------------------
  log "$m" "daemon CPU over ${CPU_WINDOW} s idle with $APPS_BIG apps"
  local c0 c1 w0 w1
  c0=$(cpu_ticks "$dpid"); w0=$(now_us)
  sleep "$CPU_WINDOW"
  c1=$(cpu_ticks "$dpid"); w1=$(now_us)
  R[cpu:$m]=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v w=$((w1 - w0)) 'BEGIN {printf "%.3f", 100 * (d / hz) / (w / 1e6)}')
  R[cpu_ticks:$m]=$((c1 - c0))
  R[online_after:$m]=$(count_online "$m")

  log "$m" "stopping the daemon"
  stop_daemon "$m" "$dpid"
}

MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)
for m in "${MANAGERS[@]}"; do
  bench_manager "$m" || die "$m: benchmark failed (see above)"
done

# ---------------------------------------------------------------- table
row() { printf '| %-50s | %-12s | %-12s | %-9s |\n' "$1" "$2" "$3" "$4"; }
echo
row "metric" "pmx" "PM2" "target"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..52})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..11})"
row "a. jlist, $APPS_SMALL apps: median of $JLIST_RUNS" "$(v jl_med pmx ms)" "$(v jl_med pm2 ms)" "< 3 ms"
row "a. jlist, $APPS_SMALL apps: p90 of $JLIST_RUNS" "$(v jl_p90 pmx ms)" "$(v jl_p90 pm2 ms)" "< 3 ms"
row "b. daemon RSS, $APPS_BIG idle apps" "$(v rss100 pmx MiB)" "$(v rss100 pm2 MiB)" "< 5 MiB"
row "c. start $APPS_BIG apps, one command -> all online" "$(v start100 pmx ms)" "$(v start100 pm2 ms)" "< 200 ms"
row "d. kill -9 -> replacement exec: median of $KILLS" "$(v kill_med pmx ms)" "$(v kill_med pm2 ms)" "< 2 ms"
row "e. daemon CPU, $APPS_BIG idle apps, ${CPU_WINDOW} s (% of a core)" "$(v cpu pmx %)" "$(v cpu pm2 %)" "< 0.1 %"
echo
echo "More figures (no target):"
row "a'. \`ping\` (CLI start + empty round trip): median of 20" "$(v ping_med pmx ms)" "$(v ping_med pm2 ms)" ""
row "daemon RSS, $APPS_SMALL apps" "$(v rss10 pmx MiB)" "$(v rss10 pm2 MiB)" ""
row "c. the start command itself returned after" "$(v start100_ret pmx ms)" "$(v start100_ret pm2 ms)" ""
row "d. kill -> exec: p90" "$(v kill_p90 pmx ms)" "$(v kill_p90 pm2 ms)" ""
row "d. kill -> exec: min / max" "${R[kill_min:pmx]:-n/a} / ${R[kill_max:pmx]:-n/a} ms" "${R[kill_min:pm2]:-n/a} / ${R[kill_max:pm2]:-n/a} ms" ""
row "d. kills without a replacement within 5 s" "$(v kill_to pmx)" "$(v kill_to pm2)" ""
row "d. the killed app afterwards" "${R[kill_state:pmx]:-n/a}" "${R[kill_state:pm2]:-n/a}" ""
row "e. daemon CPU ticks in the window (1 tick = 1/$CLK_TCK s)" "$(v cpu_ticks pmx)" "$(v cpu_ticks pm2)" ""
row "e. apps online after the window" "$(v online_after pmx)" "$(v online_after pm2)" ""

echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo
echo "pmx against the targets:"
check() {  # check KEY LIMIT LABEL UNIT
  local x=${R[$1:pmx]:-}
  [[ -z $x || $x == nan ]] && { echo "  $3: no figure"; return; }
  if awk -v x="$x" -v l="$2" 'BEGIN {exit !(x < l)}'; then echo "  $3: met ($x $4 < $2 $4)"
  else echo "  $3: MISSED ($x $4, target < $2 $4)"; fi
}
check jl_med 3 "jlist median" ms
check jl_p90 3 "jlist p90" ms
check rss100 5 "daemon RSS" MiB
check start100 200 "start $APPS_BIG -> online" ms
check kill_med 2 "kill -> exec median" ms
check cpu 0.1 "idle daemon CPU" %
