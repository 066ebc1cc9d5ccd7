#!/usr/bin/env bash
# bench/logs.sh [--quick] [--keep] [--no-pm2] [--latency-only]
#
# Log capture figures for issue 8, pmx beside PM2 and beside `cat > file`, in the same run.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick   200,000 lines per capture case instead of 2,000,000
#   --keep    keep the work dir (fixtures, PMX_HOME, PM2_HOME, each case's log, and
#             <manager>-lat.ms: each latency of case 4 in ms, in arrival order)
#   --no-pm2  measure pmx and cat only (the PM2 column shows n/a)
#   --latency-only  only case 4, `logs` latency (say, with PMX= a build that has `pmx logs`)
#
# Environment:
#   PMX   the pmx CLI   (default: <repo>/build/cli/pmx)
#   PMXD  the daemon    (default: the pmxd next to $PMX's build, <dir of pmx>/../daemon/pmxd)
#   PM2   the pm2 CLI   (default: pm2 in PATH; install with `npm install -g pm2`)
#   CC    C compiler for the fixtures (default: cc)
#
# Both daemons run with a home in a fresh temp dir (PMX_HOME, PM2_HOME); the real ~/.pmx and
# ~/.pm2 are never touched. Both daemons are killed on exit, also on failure or Ctrl-C.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CASES=(bulk line time)
for a in "$@"; do
  bench_option "$a" && continue
  case "$a" in
    --latency-only) CASES=() ;;
    *) bad_option "$a" ;;
  esac
done

if ((QUICK)); then LINES=200000; else LINES=2000000; fi
LINE_BYTES=100     # log_writer's line, newline included
TICKS=500          # latency case: lines 10 ms apart
WAIT_S=180         # longest wait for one capture case

check_tools
check_cc
make_work pmx-bench-logs

# ---------------------------------------------------------------- helpers
# VmHWM is the peak since the process started; writing 5 to clear_refs resets it to the
# current RSS (Linux >= 4.0, owner or root), so each case gets its own peak.
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null; }

# check_lines FILE -> "<lines> <numbered lines> <out of place>": lines is `wc -l`; a numbered line
# carries seq=N; out of place counts numbered lines whose N is not the one after the previous.
# Zero out of place and numbered == LINES means every line arrived exactly once, in order.
check_lines() {
  local total; total=$(wc -l <"$1")
  awk -F'seq=' -v total="$total" '
    NF > 1 { n = substr($2, 1, 10) + 0; if (n != next_n) bad++; next_n = n + 1; k++ }
    END { printf "%d %d %d\n", total, k, bad }' "$1"
}

# ---------------------------------------------------------------- fixtures
"$CC" -O2 -o "$WORK/log_writer" "$ROOT/bench/log_writer.c" || die "cannot build log_writer"
"$CC" -O2 -o "$WORK/log_watch" "$ROOT/bench/log_watch.c" || die "cannot build log_watch"
WRITER=$WORK/log_writer WATCH=$WORK/log_watch

# ---------------------------------------------------------------- header
print_header "pmx log benchmarks, side by side with PM2 and cat"
echo "size:     $LINES lines x $LINE_BYTES bytes = $((LINES * LINE_BYTES / 1000000)) MB per capture case; mode: $( ((QUICK)) && echo quick || echo full)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start; other work on the machine skews every figure"
echo

# ---------------------------------------------------------------- capture cases
# record COLUMN CASE "<ms> <writer ms> <cpu ms> <hwm KiB>" FILE
record() {
  local col=$1 c=$2 ms wms cpu hwm
  read -r ms wms cpu hwm <<<"$3"
  R[ms_$c:$col]=$ms
  R[wms_$c:$col]=$wms
  R[mbs_$c:$col]=$(awk -v ms="$ms" -v b=$((LINES * LINE_BYTES)) 'BEGIN {printf "%.0f", b / 1e6 / (ms / 1000)}')
  R[cpu_$c:$col]=$cpu
  R[hwm_$c:$col]=$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')
  local lines numbered bad
  read -r lines numbered bad < <(check_lines "$4")
  R[lines_$c:$col]=$lines
  # --time: a stamp starts every line; a line that still starts with seq= went unstamped
  [[ $c == time ]] && R[stamped_$c:$col]=$(( lines - $(grep -c '^seq=' "$4") ))
  if ((numbered == LINES && bad == 0)); then R[order_$c:$col]=ok; else R[order_$c:$col]="$numbered numbered, $bad out of place"; fi
  log "$col" "$c: $ms ms, ${R[mbs_$c:$col]} MB/s, cpu $cpu ms, peak $(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}') MiB, $lines lines, order ${R[order_$c:$col]}"
}

# The baseline: the same writer piped into `cat > file`; the CPU and peak are cat's.
bench_cat() {
  local c mode out stamp catpid
  for c in bulk line; do
    mode=$c
    out=$WORK/cat-$c.log stamp=$WORK/cat-$c.stamp
    rm -f "$out" "$stamp" "$WORK/cat.fifo"
    mkfifo "$WORK/cat.fifo"
    cat <"$WORK/cat.fifo" >"$out" &
    catpid=$!   # cat itself: it opens the FIFO, then execs
    "$WATCH" wait "$out" $((LINES * LINE_BYTES)) $((LINES - 1)) "$stamp" "$catpid" "$WAIT_S" >"$WORK/cat-$c.result" &
    local watchpid=$!
    BENCH_START_FILE=$stamp "$WRITER" "$mode" "$LINES" >"$WORK/cat.fifo" &
    local wpid=$!
    BG_PIDS=("$catpid" "$wpid" "$watchpid")
    if wait "$watchpid"; then
      record cat "$c" "$(<"$WORK/cat-$c.result")" "$out"
    else
      log cat "$c: $(<"$WORK/cat-$c.result")"
    fi
    kill "$wpid" 2>/dev/null; wait "$wpid" "$catpid" 2>/dev/null
    BG_PIDS=()
    ((KEEP)) || rm -f "$out"
  done
}

# One manager: bulk, one write per line, one write per line with --time, then logs latency.
bench_manager() {
  local m=$1 dpid
  start_daemon "$m" || return 1
  dpid=$DPID
  log "$m" "daemon pid $dpid, RSS at rest $(awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$dpid/status")"

  local c mode out stamp flags
  for c in "${CASES[@]}"; do
    mode=$c flags=()
    [[ $c == time ]] && mode=line flags=(--time)
    # pmx rotates at 10 MB by default; PM2 never does (without pm2-logrotate): one file each.
    [[ $m == pmx ]] && flags+=(--log-max-size 0)
    out=$WORK/$m-$c.log stamp=$WORK/$m-$c.stamp
    rm -f "$out" "$stamp"
    reset_peak "$dpid"
    # The watcher runs before the start command: it takes the daemon's CPU time when the
    # writer stamps its start, whenever the (slow, for PM2) start command returns.
    "$WATCH" wait "$out" $((LINES * LINE_BYTES)) $((LINES - 1)) "$stamp" "$dpid" "$WAIT_S" >"$WORK/$m-$c.result" &
    local wpid=$!
    BG_PIDS=("$wpid")
    BENCH_START_FILE=$stamp mgr "$m" start "$WRITER" --name "lw-$c" -o "$out" -e "$WORK/$m-$c.err" \
      "${flags[@]}" -- "$mode" "$LINES" >/dev/null 2>&1 \
      || { echo "logs.sh: $m start lw-$c failed" >&2; return 1; }
    if wait "$wpid"; then
      record "$m" "$c" "$(<"$WORK/$m-$c.result")" "$out"
    else
      log "$m" "$c: $(<"$WORK/$m-$c.result")"
    fi
    BG_PIDS=()
    mgr "$m" delete "lw-$c" >/dev/null 2>&1
    ((KEEP)) || rm -f "$out"
  done
  R[rss_end:$m]=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$dpid/status")

  # logs latency --------------------------------------------------------------
  if [[ $m == pmx ]] && ! "$PMX" logs --help >/dev/null 2>&1; then
    log pmx "no \`pmx logs\` verb in this build: latency not measured"
  else
    log "$m" "logs latency: $TICKS lines 10 ms apart through \`$m logs --raw --lines 0\`"
    local go=$WORK/$m-go
    rm -f "$go"
    BENCH_GO_FILE=$go mgr "$m" start "$WRITER" --name lat -o "$WORK/$m-lat.log" -e "$WORK/$m-lat.err" \
      -- tick "$TICKS" >/dev/null 2>&1 || { echo "logs.sh: $m start lat failed" >&2; return 1; }
    local cli; if [[ $m == pmx ]]; then cli=$PMX; else cli=$PM2; fi
    rm -f "$WORK/logs.fifo"; mkfifo "$WORK/logs.fifo"
    "$cli" logs lat --raw --lines 0 >"$WORK/logs.fifo" 2>/dev/null &
    local lpid=$!
    BG_PIDS=("$lpid")
    BENCH_LAT_DUMP=$WORK/$m-lat.ms "$WATCH" latency "$TICKS" "$go" 90 <"$WORK/logs.fifo" >"$WORK/$m-lat.out"
    kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
    BG_PIDS=()
    read -r "R[lat_med:$m]" "R[lat_p99:$m]" "R[lat_max:$m]" "R[lat_n:$m]" <"$WORK/$m-lat.out"
    log "$m" "logs latency: median ${R[lat_med:$m]} ms, p99 ${R[lat_p99:$m]} ms, ${R[lat_n:$m]} lines"
    mgr "$m" delete lat >/dev/null 2>&1
  fi

  log "$m" "stopping the daemon"
  stop_daemon "$m" "$dpid"
}

if ((${#CASES[@]})); then
  log cat "baseline: log_writer | cat > file"
  bench_cat
fi
MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)
for m in "${MANAGERS[@]}"; do
  bench_manager "$m" || die "$m: benchmark failed (see above)"
done

# stamping cost: time case against line case, in %
for col in pmx pm2; do
  if [[ -n ${R[ms_time:$col]:-} && -n ${R[ms_line:$col]:-} ]]; then
    R[stamp:$col]=$(awk -v a="${R[ms_time:$col]}" -v b="${R[ms_line:$col]}" 'BEGIN {printf "%+.0f", 100 * (a - b) / b}')
    R[stamp_cpu:$col]=$(awk -v a="${R[cpu_time:$col]}" -v b="${R[cpu_line:$col]}" 'BEGIN {if (b > 0) printf "%+.0f", 100 * (a - b) / b; else print "n/a"}')
  fi
done
for col in pmx cat; do
  if [[ -n ${R[mbs_bulk:$col]:-} && -n ${R[mbs_bulk:pm2]:-} ]]; then
    R[x_pm2:$col]=$(awk -v a="${R[mbs_bulk:$col]}" -v b="${R[mbs_bulk:pm2]}" 'BEGIN {printf "%.1f", a / b}')
  fi
done

# ---------------------------------------------------------------- table
row() { printf '| %-58s | %-11s | %-11s | %-11s | %-12s |\n' "$1" "$2" "$3" "$4" "$5"; }
ML=$((LINES / 1000000)); [[ $ML == 0 ]] && ML="0.$((LINES / 100000))"
echo
row "metric ($ML M lines x $LINE_BYTES B)" "pmx" "PM2" "cat > file" "target (pmx)"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..14})"
for c in "${CASES[@]}"; do
  case $c in
    bulk) label="1. bulk (64 KiB writes)" ;;
    line) label="2. one write per line" ;;
    time) label="3. one write per line, --time" ;;
  esac
  if [[ $c == time ]]; then catv="" ; else catv=$(v "ms_$c" cat ms); fi
  tgt=""; [[ $c == bulk ]] && tgt=">= cat"
  row "$label: start -> last line in file" "$(v "ms_$c" pmx ms)" "$(v "ms_$c" pm2 ms)" "${catv:-}" "$tgt"
  if [[ $c == time ]]; then catv="" ; else catv=$(v "mbs_$c" cat MB/s); fi
  tgt=""; [[ $c == bulk ]] && tgt=">= 4x PM2"
  row "   rate" "$(v "mbs_$c" pmx MB/s)" "$(v "mbs_$c" pm2 MB/s)" "${catv:-}" "$tgt"
  if [[ $c == time ]]; then catv="" ; else catv=$(v "cpu_$c" cat ms); fi
  row "   CPU of the daemon (cat) in the window" "$(v "cpu_$c" pmx ms)" "$(v "cpu_$c" pm2 ms)" "${catv:-}" ""
  if [[ $c == time ]]; then catv="" ; else catv=$(v "hwm_$c" cat MiB); fi
  tgt=""; [[ $c == bulk ]] && tgt="< 10 MiB"
  row "   peak RSS of the daemon (cat)" "$(v "hwm_$c" pmx MiB)" "$(v "hwm_$c" pm2 MiB)" "${catv:-}" "$tgt"
  if [[ $c == time ]]; then catv="" ; else catv=$(v "lines_$c" cat); fi
  row "   lines in the file" "$(v "lines_$c" pmx)" "$(v "lines_$c" pm2)" "${catv:-}" "$LINES"
  if [[ $c == time ]]; then catv="" ; else catv=$(v "order_$c" cat); fi
  row "   each line once, in order" "$(v "order_$c" pmx)" "$(v "order_$c" pm2)" "${catv:-}" "ok"
  [[ $c == time ]] && row "   lines that start with a time stamp" "$(v "stamped_$c" pmx)" "$(v "stamped_$c" pm2)" "" "$LINES"
  if [[ $c == time ]]; then catv="" ; else catv=$(v "wms_$c" cat ms); fi
  row "   the writer's own time to write it all" "$(v "wms_$c" pmx ms)" "$(v "wms_$c" pm2 ms)" "${catv:-}" ""
done
((${#CASES[@]})) && {
row "3. stamping cost, case 3 against 2: time" "$(v stamp pmx %)" "$(v stamp pm2 %)" "" "< 30 %"
row "3. stamping cost, case 3 against 2: daemon CPU" "$(v stamp_cpu pmx %)" "$(v stamp_cpu pm2 %)" "" ""
row "1. bulk rate against PM2's" "$(v x_pm2 pmx x)" "$( [[ -n ${R[mbs_bulk:pm2]:-} ]] && echo "1.0 x" || echo n/a)" "$(v x_pm2 cat x)" ">= 4 x"
}
row "4. logs latency, $TICKS lines: median" "$(v lat_med pmx ms)" "$(v lat_med pm2 ms)" "" "a few ms"
row "4. logs latency: p99" "$(v lat_p99 pmx ms)" "$(v lat_p99 pm2 ms)" "" ""
row "4. logs latency: max / lines received" "$(v lat_max pmx ms) / $(v lat_n pmx)" "$(v lat_max pm2 ms) / $(v lat_n pm2)" "" ""
row "daemon RSS after the capture cases" "$(v rss_end pmx MiB)" "$(v rss_end pm2 MiB)" "" ""
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
