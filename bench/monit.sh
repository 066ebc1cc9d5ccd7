#!/usr/bin/env bash
# bench/monit.sh [--quick] [--keep] [--no-pm2]
#
# What a dashboard costs: `pmx monit` beside `pm2 monit`, each open on 100 idle apps at its
# default refresh (pmx: 1 s), in a detached tmux session of 80x24. Figures only: nothing here
# asserts, the exit status is 0 whenever the run completes.
#
#   --quick   10 s windows instead of 30 s
#   --keep    keep the work dir (fixture, PMX_HOME, PM2_HOME) and print its path
#   --no-pm2  measure pmx only (the PM2 column shows n/a)
#
# For each manager: the daemon's CPU over a window with no dashboard open (the baseline), then
# the dashboard's CPU and the daemon's over a window with it open, from utime+stime in
# /proc/<pid>/stat. The target (issue 21): dashboard + daemon <= 1 % of one CPU.
#
# Environment: PMX, PMXD, PM2 as bench/lib.sh; CC for the fixture; tmux is needed.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for a in "$@"; do bench_option "$a" || bad_option "$a"; done
if ((QUICK)); then WINDOW=10; else WINDOW=30; fi
APPS=100

check_tools
check_cc
command -v tmux >/dev/null || die "tmux is needed (apt-get install tmux)"
((BASH_VERSINFO[0] >= 5)) || die "bash 5 is needed (EPOCHREALTIME)"
make_work pmx-bench-monit
TMUX_SOCKET=$WORK/tmux.sock
tmuxw() { tmux -S "$TMUX_SOCKET" -f /dev/null "$@"; }
cleanup_tmux() { tmuxw kill-server 2>/dev/null; }

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
cpu_ticks() {  # utime+stime of one process (not its children), in clock ticks
  local s; s=$(<"/proc/$1/stat"); s=${s##*) }
  local f; read -ra f <<<"$s"; echo $(( f[11] + f[12] ))
}
CLK_TCK=$(getconf CLK_TCK)
count_online() {
  mgr "$1" jlist 2>/dev/null | jq '[.[] | select(.pm2_env.status == "online")] | length' 2>/dev/null || echo -1
}
wait_online() {  # wait_online M N timeout_s
  local deadline=$(( $(now_us) + $3 * 1000000 )) c
  while :; do
    c=$(count_online "$1"); [[ $c == "$2" ]] && return 0
    (( $(now_us) > deadline )) && { echo "$SELF: $1: waited $3 s for $2 online apps, have $c" >&2; return 1; }
    sleep 0.1
  done
}
# cpu_window PIDS...: prints each pid's CPU over WINDOW s, as % of one CPU, space-separated.
cpu_window() {
  local p c0=() c1=() w0 w1 i=0
  for p in "$@"; do c0+=("$(cpu_ticks "$p")"); done; w0=$(now_us)
  sleep "$WINDOW"
  for p in "$@"; do c1+=("$(cpu_ticks "$p")"); done; w1=$(now_us)
  for p in "$@"; do
    awk -v d=$(( c1[i] - c0[i] )) -v hz="$CLK_TCK" -v w=$(( w1 - w0 )) 'BEGIN {printf "%.3f ", 100 * (d / hz) / (w / 1e6)}'
    i=$((i + 1))
  done
  echo
}

"$CC" -O2 -o "$WORK/idle_app" "$ROOT/bench/idle_app.c" || die "cannot build the fixture"
APP=$WORK/idle_app

print_header "monit: what a dashboard costs, pmx monit beside pm2 monit"
echo "window:   ${WINDOW} s; $APPS idle apps; dashboards in tmux $(tmux -V | awk '{print $2}') at 80x24"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start; other work on the machine skews every figure"
echo

bench_manager() {
  local m=$1 dpid dash cmd
  start_daemon "$m" || return 1
  dpid=$DPID
  mgr "$m" start "$APP" --name idle -f -i "$APPS" >/dev/null 2>&1 || { echo "$SELF: $m start failed" >&2; return 1; }
  wait_online "$m" "$APPS" 300 || return 1
  sleep 3
  log "$m" "daemon CPU over ${WINDOW} s, no dashboard"
  read -r "R[base:$m]" < <(cpu_window "$dpid")
  if [[ $m == pmx ]]; then cmd="exec '$PMX' monit"; else cmd="exec '$PM2' monit"; fi
  tmuxw new-session -d -x 80 -y 24 -s "$m" -e "PMX_HOME=$PMX_HOME" -e "PM2_HOME=$PM2_HOME" -e "LANG=C.UTF-8" "$cmd" ||
    { echo "$SELF: tmux failed" >&2; return 1; }
  dash=$(tmuxw display-message -p -t "$m" '#{pane_pid}')
  sleep 5  # opened, first frames drawn
  kill -0 "$dash" 2>/dev/null || { echo "$SELF: $m monit exited early" >&2; tmuxw capture-pane -p -t "$m" >&2; return 1; }
  log "$m" "monit (pid $dash) and daemon CPU over ${WINDOW} s"
  read -r "R[dash:$m]" "R[daemon:$m]" < <(cpu_window "$dash" "$dpid")
  R[sum:$m]=$(awk -v a="${R[dash:$m]}" -v b="${R[daemon:$m]}" 'BEGIN {printf "%.3f", a + b}')
  R[added:$m]=$(awk -v a="${R[dash:$m]}" -v b="${R[daemon:$m]}" -v c="${R[base:$m]}" 'BEGIN {printf "%.3f", a + b - c}')
  tmuxw kill-session -t "$m" 2>/dev/null
  stop_daemon "$m" "$dpid"
}

MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)
for m in "${MANAGERS[@]}"; do
  bench_manager "$m" || { cleanup_tmux; die "$m: benchmark failed (see above)"; }
done
cleanup_tmux

row() { printf '| %-52s | %-10s | %-10s | %-8s |\n' "$1" "$2" "$3" "$4"; }
echo
row "metric (% of one CPU over ${WINDOW} s, $APPS idle apps)" "pmx" "PM2" "target"
row "---" "---" "---" "---"
row "daemon, no dashboard open" "$(v base pmx %)" "$(v base pm2 %)" ""
row "monit itself" "$(v dash pmx %)" "$(v dash pm2 %)" ""
row "daemon while monit is open" "$(v daemon pmx %)" "$(v daemon pm2 %)" ""
row "monit + daemon" "$(v sum pmx %)" "$(v sum pm2 %)" "<= 1 %"
row "what opening monit adds (monit + daemon - baseline)" "$(v added pmx %)" "$(v added pm2 %)" ""
