#!/usr/bin/env bash
# bench/reload.sh [--quick] [--keep] [--no-pm2] [--no-next]
#
# Failed requests across reloads of the Node apps people run, pmx beside PM2 in the same run
# (issue 23). Figures only: nothing here asserts, the exit status is 0 whenever the run completes.
#
#   --quick    1 pass instead of 2
#   --keep     keep the work dir (apps, node_modules, PMX_HOME, PM2_HOME, outputs)
#   --no-pm2   measure pmx only (the PM2 column shows n/a)
#   --no-next  leave Next.js out (npm install next and `next build` take minutes)
#
# Apps, each run as 2 cluster-mode instances with --kill-timeout 3000, installed from npm into
# the work dir:
#   naive     http.createServer(...).listen(PORT), no handler of its own
#   express   express 4, app.listen(PORT), server.close(() => process.exit(0)) on SIGINT
#   fastify   fastify 4, fastify.close().then(() => process.exit(0)) on SIGINT
#   next      Next.js 14, `next start` of a one-page app (Next's own server and handlers)
# Loads, each through 5 reloads one second apart (the load starts 2 s before the first and
# ends 1 s after the last):
#   wrk       wrk -t1 -c64 (keep-alive); "failed" = its socket errors (connect, read, write,
#             timeout) plus non-2xx responses
#   pool      tests/fixtures/keepalive_pool.js: 32 keep-alive connections of one Node
#             http.Agent sending back to back; "failed" = requests with no complete response
#             (reset, closed under it, 5 s timeout) or a non-2xx status, never retried
# A pass runs every (app, load) once under each manager, pmx first in odd passes and PM2 first
# in even ones, so a change in the machine's other load falls on both; each cell reads
# "failed/requests" for every pass.
#
# Environment: PMX, PMXD, PM2 as bench/lib.sh; WRK (default: wrk in PATH).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_NEXT=1
for a in "$@"; do
  bench_option "$a" || { [[ $a == --no-next ]] && WITH_NEXT=0; } || bad_option "$a"
done
PASSES=2; ((QUICK)) && PASSES=1
ROUNDS=5
CONNS=64
POOL=32
WRK=${WRK:-$(command -v wrk || true)}
check_tools
[[ -n $WRK && -x $WRK ]] || die "wrk not found: apt-get install -y wrk"
command -v node >/dev/null || die "node is needed"
command -v npm >/dev/null || die "npm is needed"
make_work pmx-bench-reload

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { local i; for i in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# ---- the apps ---------------------------------------------------------------------------
APP_DIR=$WORK/apps
mkdir -p "$APP_DIR"
APPS=(naive express fastify)
install_apps() {
  local t0=$SECONDS
  (cd "$APP_DIR" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund --no-update-notifier --loglevel=error express@4 fastify@4 >&2) ||
    die "npm install express fastify failed"
  log npm "express, fastify installed in $((SECONDS - t0)) s"
  cat >"$APP_DIR/naive.js" <<'JS'
require('http').createServer((req, res) => res.end('hello world\n')).listen(process.env.PORT);
JS
  cat >"$APP_DIR/express.js" <<'JS'
const app = require('express')();
app.get('/', (req, res) => res.send('hello world\n'));
const server = app.listen(process.env.PORT);
process.on('SIGINT', () => server.close(() => process.exit(0)));
JS
  cat >"$APP_DIR/fastify.js" <<'JS'
const fastify = require('fastify')();
fastify.get('/', async () => 'hello world\n');
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGINT', () => fastify.close().then(() => process.exit(0)));
JS
  ((WITH_NEXT)) || return 0
  t0=$SECONDS
  mkdir -p "$APP_DIR/next/pages"
  echo 'export default function Home() { return "hello world"; }' >"$APP_DIR/next/pages/index.js"
  if (cd "$APP_DIR/next" && echo '{"private":true}' >package.json &&
      npm install --no-audit --no-fund --no-update-notifier --loglevel=error next@14 react@18 react-dom@18 >&2 &&
      NEXT_TELEMETRY_DISABLED=1 npx next build >"$WORK/next-build.txt" 2>&1); then
    APPS+=(next)
    log npm "next installed and built in $((SECONDS - t0)) s"
  else
    log npm "Next.js could not be installed or built ($((SECONDS - t0)) s): left out"
  fi
}

# start_app MANAGER APP PORT
start_app() {
  local m=$1 app=$2 port=$3
  if [[ $app == next ]]; then
    (cd "$APP_DIR/next" && NEXT_TELEMETRY_DISABLED=1 mgr "$m" start node_modules/next/dist/bin/next --name next --interpreter node -i 2 \
      --kill-timeout 3000 -- start -p "$port" -H 127.0.0.1 >/dev/null 2>&1) || die "$m start next failed"
  else
    (cd "$APP_DIR" && PORT=$port mgr "$m" start "$APP_DIR/$app.js" --name "$app" -i 2 --kill-timeout 3000 \
      >/dev/null 2>&1) || die "$m start $app failed"
  fi
  wait_port "$port" || die "$m: $app does not answer on $port"
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 || log "$m" "$app: first request failed"
}

# under_load LOAD MANAGER APP PORT OUT: the load through ROUNDS reloads; prints "failed requests".
under_load() {
  local load=$1 m=$2 app=$3 port=$4 out=$5 pid i
  rm -f "$out.stop"
  if [[ $load == wrk ]]; then
    "$WRK" -t1 -c"$CONNS" -d120s "http://127.0.0.1:$port/" >"$out" 2>&1 &   # stopped below
  else
    node "$ROOT/tests/fixtures/keepalive_pool.js" "$port" "$POOL" "$out.stop" "$out.progress" $((ROUNDS + 30)) >"$out" 2>&1 &
  fi
  pid=$!
  BG_PIDS=("$pid")
  sleep 2
  for i in $(seq 1 $ROUNDS); do mgr "$m" reload "$app" >/dev/null 2>&1 || log "$m" "$app: reload $i failed"; sleep 1; done
  touch "$out.stop"
  [[ $load == wrk ]] && kill -INT "$pid"   # wrk stops and prints its summary
  wait "$pid"
  BG_PIDS=()
  if [[ $load == wrk ]]; then
    awk '/Socket errors/ { gsub(/,/, ""); e = $4 + $6 + $8 + $10 } /Non-2xx/ { n = $5 } /requests in/ { r = $1 }
         END { printf "%d %d\n", e + n, r }' "$out"
  else
    jq -r '"\(.failed) \(.ok + .failed)"' "$out" 2>/dev/null || echo "? ?"
  fi
}

print_header "pmx reloads of real Node apps under load, side by side with PM2 reload"
echo "load:     $ROUNDS reloads 1 s apart under wrk -t1 -c$CONNS and under a $POOL-connection keep-alive pool; $PASSES pass(es), alternating"
echo "          load average $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start"
install_apps
MANAGERS=(pmx); ((WITH_PM2)) && MANAGERS+=(pm2)
for ((pass = 1; pass <= PASSES; pass++)); do
  order=("${MANAGERS[@]}")
  ((pass % 2 == 0)) && order=("${MANAGERS[@]:1}" "${MANAGERS[0]}")
  for app in "${APPS[@]}"; do
    for m in "${order[@]}"; do
      port=$(free_port)
      start_app "$m" "$app" "$port"
      for load in wrk pool; do
        read -r failed total < <(under_load "$load" "$m" "$app" "$port" "$WORK/$m-$app-$load-$pass.txt")
        R[$app-$load:$m]+="${R[$app-$load:$m]:+, }$failed/$total"
        log "$m" "pass $pass, $app, $load: $failed failed of $total requests over $ROUNDS reloads"
      done
      mgr "$m" delete "$app" >/dev/null 2>&1
    done
  done
done

col() { echo "${R[$1:$2]:-n/a}"; }
row() { printf '| %-22s | %-28s | %-28s |\n' "$1" "$2" "$3"; }
echo
row "app, load" "pmx: failed/requests" "PM2: failed/requests"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..30})"
for app in "${APPS[@]}"; do
  for load in wrk pool; do row "$app, $load" "$(col "$app-$load" pmx)" "$(col "$app-$load" pm2)"; done
done
echo
echo "failed: wrk's socket errors (connect+read+write+timeout) plus non-2xx; the pool's requests with no"
echo "complete 2xx response. One figure per pass."
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
