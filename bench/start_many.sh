#!/usr/bin/env bash
# bench/start_many.sh [--quick] [--keep] [--no-pm2] [--rounds N] [--apps N] [--load]
#
# 100 apps from one ecosystem file until all are online, pmx beside PM2 in the same run.
# Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   warm  the daemon runs (and has run the same file before: `delete all`, 1 s of rest)
#   cold  no daemon runs: the start command starts it (the page cache is NOT dropped, since
#         other work shares this machine; "cold" means "no daemon")
#
# For each start: when the last of the apps exec'd (bench/idle_app.c stamps its first
# instruction with CLOCK_REALTIME into BENCH_STAMP_FILE), when the start command returned, and
# when a jlist first counted every app online (pmx's start answers once they are, so its jlist
# only confirms; PM2's is polled every 50 ms plus its own ~0.5 s). The rounds interleave
# pmx warm, PM2 warm, pmx cold, PM2 cold; median, min and max of each figure are shown.
#
#   --rounds N  rounds (default 5; 3 with --quick)
#   --apps N    apps in the file (default 100)
#   --load      one busy loop per core beside the run (the "under CPU load" case)
#   --keep      keep the work dir (fixture, file, homes with pmx.log and pm2.log)
#   --no-pm2    pmx only
#
# Environment: PMX, PMXD, PM2, CC as for bench/run.sh (bench/lib.sh).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS= APPS=100 LOAD=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]}
  bench_option "$a" && continue
  case "$a" in
    --rounds) ROUNDS=${args[++i]:-} ;;
    --apps) APPS=${args[++i]:-} ;;
    --load) LOAD=1 ;;
    *) bad_option "$a" ;;
  esac
done
[[ -n $ROUNDS ]] || { ((QUICK)) && ROUNDS=3 || ROUNDS=5; }
[[ $ROUNDS =~ ^[0-9]+$ && $APPS =~ ^[0-9]+$ ]] || die "--rounds and --apps take a number"

check_tools
check_cc
((BASH_VERSINFO[0] >= 5)) || die "bash 5 is needed (EPOCHREALTIME)"
make_work pmx-bench-start

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

APP=$WORK/idle_app
"$CC" -O2 -o "$APP" "$ROOT/bench/idle_app.c" || die "cannot build the fixture"
STAMPS=$WORK/stamps
FILE=$WORK/hundred.json
{
  echo '{"apps": ['
  for ((k = 0; k < APPS; k++)); do
    printf '  {"name": "app%03d", "script": "%s", "interpreter": "none", "autorestart": false, "env": {"BENCH_STAMP_FILE": "%s"}}%s\n' \
      "$k" "$APP" "$STAMPS" "$( ((k + 1 < APPS)) && echo ,)"
  done
  echo ']}'
} >"$FILE"

count_online() {
  mgr "$1" jlist 2>/dev/null | jq '[.[] | select(.pm2_env.status == "online")] | length' 2>/dev/null || echo -1
}
count_all() { mgr "$1" jlist 2>/dev/null | jq 'length' 2>/dev/null || echo -1; }

# pmx_steps T0_US FROM_LINE: from pmx.log's lines after FROM_LINE (pmxd stamps them in ms, UTC), the
# ms from T0 to the first app registered (the request has arrived), the last registered, the
# last forked and the last online: "<first reg> <last reg> <last forked> <last online>".
pmx_steps() {
  local t0=$1 from=$2
  tail -n +"$((from + 1))" "$PMX_HOME/pmx.log" | TZ=UTC awk -v t0="$t0" '
    function ms(d, t,   s) { s = d " " t; gsub(/[-:]/, " ", s); split(t, f, "."); return (mktime(substr(s, 1, 19)) * 1000 + f[2]) - t0 / 1000 }
    / registered: / { r = ms($1, $2); if (first == "") first = r; last = r }
    / forked pid / { k = ms($1, $2) }
    / -> online / { o = ms($1, $2) }
    END { printf "%.0f %.0f %.0f %.0f\n", first, last, k, o }'
}

# one_start M warm|cold: prints "<last exec ms> <returned ms> <online ms>" from just before the start.
one_start() {
  local m=$1 kind=$2 t0 t_ret t_on c deadline last
  if [[ $kind == warm ]]; then
    [[ -e $PMX_HOME/pmxd.pid && $m == pmx ]] || [[ $m == pm2 && -e $PM2_HOME/pm2.pid ]] || mgr "$m" ping >/dev/null 2>&1
    mgr "$m" delete all >/dev/null 2>&1
    deadline=$(( $(now_us) + 60000000 ))
    while [[ $(count_all "$m") != 0 ]]; do (( $(now_us) > deadline )) && { echo "$m: apps still there" >&2; return 1; }; sleep 0.05; done
  else
    stop_daemon "$m"
  fi
  : >"$STAMPS"
  sleep 1
  LOG_FROM=$(wc -l <"$PMX_HOME/pmx.log" 2>/dev/null || echo 0)
  t0=$(now_us)
  mgr "$m" start "$FILE" >/dev/null 2>&1 || { echo "$SELF: $m start failed" >&2; return 1; }
  t_ret=$(now_us)
  deadline=$(( t0 + 120000000 ))
  while :; do
    c=$(count_online "$m")
    [[ $c == "$APPS" ]] && break
    (( $(now_us) > deadline )) && { echo "$SELF: $m: $c of $APPS online after 120 s" >&2; return 1; }
    sleep 0.05
  done
  t_on=$(now_us)
  # The stamps: one line per exec; the latest time is when the last app reached its main().
  last=$(sort -n "$STAMPS" | tail -n1 | cut -d' ' -f1)
  [[ $(wc -l <"$STAMPS") -ge $APPS ]] || { echo "$SELF: $m: only $(wc -l <"$STAMPS") stamps" >&2; return 1; }
  awk -v l="$last" -v t0="$t0" -v r="$t_ret" -v o="$t_on" \
    'BEGIN {printf "%.1f %.1f %.1f\n", (l / 1000 - t0) / 1000, (r - t0) / 1000, (o - t0) / 1000}'
  echo "$t0 $LOG_FROM"  # for pmx_steps
}

if ((LOAD)); then
  for ((k = 0; k < $(nproc); k++)); do (while :; do :; done) & BG_PIDS+=($!); done
fi

print_header "start_many: $APPS apps from one file until all online, $ROUNDS rounds$( ((LOAD)) && echo ", $(nproc) busy loops beside")"
echo "load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)
declare -A SAMPLES
for ((r = 1; r <= ROUNDS; r++)); do
  for kind in warm cold; do
    for m in "${MANAGERS[@]}"; do
      out=$(one_start "$m" "$kind") || die "$m $kind: failed"
      log "$m" "round $r $kind: last exec / returned / online: $(head -n1 <<<"$out") ms"
      { read -r e t o; read -r T0 LOG_FROM; } <<<"$out"
      if [[ $m == pmx ]]; then
        sleep 1.2  # pmx.log is flushed once per sampling tick
        read -r s1 s2 s3 s4 < <(pmx_steps "$T0" "$LOG_FROM")
        log pmx "round $r $kind: first registered / last registered / last forked / last online: $s1 $s2 $s3 $s4 ms"
        SAMPLES[steps:$kind:reg1]+="$s1 "; SAMPLES[steps:$kind:reg]+="$s2 "; SAMPLES[steps:$kind:fork]+="$s3 "; SAMPLES[steps:$kind:on]+="$s4 "
      fi
      SAMPLES[$m:$kind:exec]+="$e "
      SAMPLES[$m:$kind:ret]+="$t "
      SAMPLES[$m:$kind:online]+="$o "
    done
  done
done

summary() {  # summary "v1 v2 ..." -> "median (min–max)"
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {
    med = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    printf "%.0f (%.0f–%.0f)", med, v[1], v[NR] }'
}
echo
printf '| %-40s | %-20s | %-20s |\n' "ms from the start command, median (min–max)" "pmx" "PM2"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..22})" "$(printf -- '-%.0s' {1..22})"
for kind in warm cold; do
  for f in exec ret online; do
    case $f in exec) label="last of $APPS exec'd" ;; ret) label="start command returned" ;; online) label="all $APPS online (jlist)" ;; esac
    p=$(summary "${SAMPLES[pmx:$kind:$f]:-}")
    q=n/a; ((WITH_PM2)) && q=$(summary "${SAMPLES[pm2:$kind:$f]:-}")
    printf '| %-40s | %-20s | %-20s |\n' "$kind: $label" "$p" "$q"
  done
done
echo
echo "pmx per step (pmx.log, ms from the start command, median (min–max)):"
for kind in warm cold; do
  printf '  %s: request in (first app registered) %s, last registered %s, last forked %s, last online %s\n' "$kind" \
    "$(summary "${SAMPLES[steps:$kind:reg1]:-}")" "$(summary "${SAMPLES[steps:$kind:reg]:-}")" \
    "$(summary "${SAMPLES[steps:$kind:fork]:-}")" "$(summary "${SAMPLES[steps:$kind:on]:-}")"
done
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
