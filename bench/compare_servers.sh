#!/usr/bin/env bash
# A/B of two ctrlfuse-server binaries under the same load, interleaved
# (A B A B ...) so that a machine whose load drifts (shared CI hosts) hurts
# both alike: served images/s and p50 for 16 concurrent clients, distinct
# 320x240 pairs, encode cache off, tiny model; and the server's CPU time
# per image.
# usage: bench/compare_servers.sh A_SERVER B_SERVER [ROUNDS=3] [MAX_BATCH=1]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
A="$1" B_SRV="$2" ROUNDS="${3:-3}" MB="${4:-1}"
T="$(mktemp -d)"
# Only a server this script started (`kill 0` would signal the whole group).
trap '{ [[ -n "${PID:-}" ]] && kill -TERM "$PID"; } 2>/dev/null || true; rm -rf "$T"' EXIT
"$BUILD_DIR/tools/ctrlfuse-scenes" --out "$T/s" --count 16 --width 320 --height 240 >/dev/null
cpu() {  # user+system CPU seconds of process $1
  /usr/bin/python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"
}
run() {  # server binary -> "images/s p50_ms server-CPU-seconds-per-image"
  rm -f "$T/out" "$T/log"  # the wait below must read this server's log only
  "$1" --port 0 --metrics_port -1 --host 127.0.0.1 --warmup_sizes 320x240 --max_batch_size "$MB" \
    --max_queue_delay_ms 20 --cache_mb 0 >"$T/out" 2>"$T/log" &
  PID=$!
  wait_until_serving "$PID" "$T/log"
  local port cpu0 cpu1
  port="$(awk '/^port /{print $2}' "$T/out")"
  cpu0="$(cpu "$PID")"
  "$BUILD_DIR/client/ctrlfuse-client" --server "127.0.0.1:$port" load --ir_dir "$T/s/ir" --vis_dir "$T/s/vi" \
    --mask_dir "$T/s/mask" --concurrency 16 --count 48 --masks=false --json >"$T/load.json"
  cpu1="$(cpu "$PID")"
  kill -TERM "$PID"; wait "$PID" || true
  PID=""
  /usr/bin/python3 -c "import json; d=json.load(open('$T/load.json')); print('%.2f %.0f %.3f' % (d['throughput'], 1000*d['latency_seconds']['p50'], ($cpu1-$cpu0)/48))"
}
# CPU seconds per image (the server process's, warm-up excluded) are the
# steadier number when other load comes and goes: overhead shows there.
echo "| round | A images/s | A p50 ms | A CPU s/image | B images/s | B p50 ms | B CPU s/image |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  # Not `< <(run ...)`: a subshell would run the EXIT trap (and delete $T).
  run "$A" >"$T/a"
  run "$B_SRV" >"$T/b"
  read -r a_ips a_p50 a_cpu <"$T/a"
  read -r b_ips b_p50 b_cpu <"$T/b"
  echo "| $r | $a_ips | $a_p50 | $a_cpu | $b_ips | $b_p50 | $b_cpu |"
done
