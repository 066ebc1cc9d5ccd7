#!/usr/bin/env bash
# bench/serve.sh [--quick] [--keep] [--no-pm2]
#
# pmx serve (pmx-serve, native) beside pm2 serve (Node) on the same folder, in the same run, with
# wrk. Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
# Both servers run at once, each managed by its own daemon; wrk (-t1 -c32, keep-alive) measures
# them in slices that alternate between the two (5 of 5 s each, 3 with --quick), so the machine's
# other load falls on both alike; the table shows the median slice. Files: index.html (1 KiB) and
# a 1 MiB file. Then each server's RSS after the load.
#
# Environment: PMX, PMXD, PM2 as bench/lib.sh; WRK (default: wrk in PATH; apt-get install wrk).
source "$(dirname "$0")/lib.sh"
for a in "$@"; do bench_option "$a" || bad_option "$a"; done
WRK=${WRK:-$(command -v wrk || true)}
check_tools
[[ -n $WRK && -x $WRK ]] || die "wrk not found: apt-get install -y wrk"
make_work pmx-bench-serve
SLICES=$((QUICK ? 3 : 5))

SITE=$WORK/site
mkdir -p "$SITE"
head -c 1024 /dev/zero | tr '\0' 'x' >"$SITE/index.html"
head -c 1048576 /dev/urandom >"$SITE/big.bin"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { local i; for i in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

declare -A PORT
PORT[pmx]=$(free_port)
start_daemon pmx || die "pmxd did not start"
"$PMX" serve "$SITE" "${PORT[pmx]}" >/dev/null || die "pmx serve failed"
wait_port "${PORT[pmx]}" || die "pmx serve does not answer"
MANAGERS=(pmx)
if ((WITH_PM2)); then
  PORT[pm2]=$(free_port)
  start_daemon pm2 || die "PM2 did not start"
  "$PM2" serve "$SITE" "${PORT[pm2]}" >/dev/null 2>&1 || die "pm2 serve failed"
  wait_port "${PORT[pm2]}" || die "pm2 serve does not answer"
  MANAGERS+=(pm2)
fi

# slice MANAGER PATH: one wrk run; prints "req/s p99_ms".
slice() {
  "$WRK" -t1 -c32 -d5s --latency "http://127.0.0.1:${PORT[$1]}$2" 2>/dev/null | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; p99 = v }
    END { printf "%d %.2f\n", rps, p99 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for path in /index.html /big.bin; do
  for m in "${MANAGERS[@]}"; do "$WRK" -t1 -c32 -d2s "http://127.0.0.1:${PORT[$m]}$path" >/dev/null 2>&1; done  # warm-up
  declare -A RPS=() P99=()
  for ((i = 0; i < SLICES; i++)); do
    for m in "${MANAGERS[@]}"; do
      read -r r p < <(slice "$m" "$path")
      log "$m" "$path slice $((i + 1)): $r req/s, p99 $p ms"
      RPS[$m]+="$r "$'\n' P99[$m]+="$p "$'\n'
    done
  done
  for m in "${MANAGERS[@]}"; do
    R[$path rps:$m]=$(printf '%s' "${RPS[$m]}" | median)
    R[$path p99:$m]=$(printf '%s' "${P99[$m]}" | median)
  done
done
rss_of() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
R[rss:pmx]=$(rss_of "$("$PMX" pid "static-page-server-${PORT[pmx]}" | head -n1)")
((WITH_PM2)) && R[rss:pm2]=$(rss_of "$("$PM2" pid "static-page-server-${PORT[pm2]}" | head -n1)")

print_header "bench/serve.sh: pmx serve beside pm2 serve"
echo "load:     wrk -t1 -c32 keep-alive, median of $SLICES alternating slices of 5 s"
echo
printf '| %-32s | %-12s | %-12s |\n' "" pmx PM2
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..34})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})"
for path in /index.html /big.bin; do
  printf '| %-32s | %-12s | %-12s |\n' "$path req/s" "$(v "$path rps" pmx)" "$(v "$path rps" pm2)"
  printf '| %-32s | %-12s | %-12s |\n' "$path p99" "$(v "$path p99" pmx ms)" "$(v "$path p99" pm2 ms)"
done
printf '| %-32s | %-12s | %-12s |\n' "server RSS after the load" "$(v rss pmx MiB)" "$(v rss pm2 MiB)"
